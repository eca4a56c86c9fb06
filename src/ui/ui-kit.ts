import type { Request, RequestHandler, Response } from 'express';
import type { Actor } from '../audit/audit.service.js';
import type { AppError } from '../errors.js';
import { sessionKey } from '../http/session-store.js';
import { errorSummary, type Logger } from '../logger.js';
import type { UserView } from '../users/user.service.js';

export const currentUser = (res: Response): UserView => res.locals.user as UserView;

/**
 * The signed-in session behind `req`, as the keystore holds its unseals: the hash its store row goes
 * by (sessionKey), so the session's end (session.ts: onEnd) can wipe them.
 */
export const sessionHolder = (req: Request): string => sessionKey(req.sessionID);

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

const LOCAL_BASE = 'http://local.invalid';

/**
 * `value` if it is a path on this site, else `fallback`: what a redirect may take from a form. A
 * browser reads `/\evil.example/` (and `/` + tab + `/evil.example`) as `//evil.example`, another
 * site, so backslashes and control characters are refused, and the URL must resolve to our origin.
 */
export function localPath(value: string, fallback = '/'): string {
  if (!value.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(value)) return fallback;
  try {
    const url = new URL(value, LOCAL_BASE);
    // `/.//evil.example` resolves to the path `//evil.example`: in a Location header, another site.
    if (url.origin !== LOCAL_BASE || url.pathname.startsWith('//')) return fallback;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return fallback;
  }
}

export const param = (req: Request, name: string): string => String((req.params as Record<string, string>)[name] ?? '');

/** Pages that show decrypted values, master keys or tokens: never cached anywhere. */
export function noStore(res: Response): Response {
  return res.set('Cache-Control', 'no-store');
}

type FormLocals = (
  req: Request,
  res: Response,
  error: AppError,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/**
 * How a route wants its domain errors shown, read by the error handler (htmlErrorAnswer), with the
 * route's params: by the time an error reaches that handler, Express has reset `req.params`.
 */
type OnError = { readonly params: Request['params'] } & (
  { readonly back: (req: Request) => string } | { readonly view: string; readonly locals: FormLocals }
);

const onErrors = new WeakMap<Request, OnError>();

/**
 * A state-changing form handler on a list page: a domain error (bad input, sealed …) becomes a
 * flash message and a 303 back, so the user sees what went wrong on the page they came from.
 */
export function action(
  back: (req: Request) => string,
  handler: (req: Request, res: Response) => Promise<void>,
): RequestHandler {
  return (req, res) => {
    onErrors.set(req, { params: { ...req.params }, back });
    return handler(req, res);
  };
}

/**
 * On the route line of a form with its own page (Kutt's viewTemplate): a domain error re-renders
 * `view` with `locals` and the error's message, under the status of its code.
 */
export function formOnError(view: string, locals: FormLocals): RequestHandler {
  return (req, _res, next) => {
    onErrors.set(req, { params: { ...req.params }, view, locals });
    next();
  };
}

const TITLES: Readonly<Record<number, string>> = {
  401: 'Not unlocked',
  403: 'Refused',
  404: 'Not found',
  409: 'Already there',
  410: 'Gone',
  413: 'Too large',
  423: 'Sealed',
  429: 'Too many attempts',
  500: 'Something went wrong',
};

/**
 * The HTML side of the one error handler: a flash and a 303 back for an action, the form again
 * for a form (unless what it is about does not exist), else the error page; always the status of
 * the code, 500 without a word of the cause for an unexpected error (`error` undefined).
 */
export function htmlErrorAnswer(logger: Logger) {
  const render = (res: Response, status: number, view: string, locals: Record<string, unknown>) =>
    res.status(status).render(view, locals, (failed: Error | null, html?: string) => {
      if (!failed) return void res.send(html);
      logger.error('error page failed to render', { view, ...errorSummary(failed) });
      res.status(500).type('text/plain').send('internal error');
    });

  return async (req: Request, res: Response, status: number, error: AppError | undefined): Promise<void> => {
    const onError = error && onErrors.get(req);
    if (onError) req.params = onError.params;
    if (error && onError && 'back' in onError) {
      flash(req, 'error', error.message);
      return res.redirect(303, onError.back(req));
    }
    if (error && onError && 'view' in onError && error.code !== 'not_found') {
      return render(res, status, onError.view, { ...(await onError.locals(req, res, error)), error: error.message });
    }
    render(res, status, 'pages/error', {
      title: TITLES[status] ?? 'Not accepted',
      message: error?.message ?? 'An unexpected error occurred; it has been logged.',
    });
  };
}

export type HtmlErrorAnswer = ReturnType<typeof htmlErrorAnswer>;
