import type { Request, RequestHandler, Response } from 'express';
import type { Actor } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { MasterKeyLimiter } from '../http/middleware/api-auth.js';
import type { AppContext } from '../main.js';
import type { UserView } from '../users/user.service.js';

/** What every UI route module receives. */
export interface UiDeps {
  readonly ctx: AppContext;
  readonly config: Config;
  readonly unsealLimiter: MasterKeyLimiter;
}

export const currentUser = (res: Response): UserView => res.locals.user as UserView;

export const uiActor = (req: Request, res: Response): Actor => ({
  name: `user:${currentUser(res).username}`,
  ip: req.ip,
  userAgent: req.get('user-agent'),
});

export function flash(req: Request, kind: 'success' | 'error', message: string): void {
  req.session.flash = [...(req.session.flash ?? []), { kind, message }];
}

/** A form field as a bounded string ('' when absent). */
export function field(req: Request, name: string, max = 2048): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

export const param = (req: Request, name: string): string => String((req.params as Record<string, string>)[name] ?? '');

/**
 * A state-changing form handler: a domain error (bad input, wrong key, sealed …) becomes a flash
 * message and a redirect back, so the user sees what went wrong on the page they came from.
 */
export function action(
  back: (req: Request) => string,
  handler: (req: Request, res: Response) => Promise<void>,
): RequestHandler {
  return async (req, res, next) => {
    try {
      await handler(req, res);
    } catch (error) {
      if (!(error instanceof AppError)) return next(error);
      flash(req, 'error', error.message);
      res.redirect(303, back(req));
    }
  };
}

/** Pages that show decrypted values, master keys or tokens: never cached anywhere. */
export function noStore(res: Response): Response {
  return res.set('Cache-Control', 'no-store');
}
