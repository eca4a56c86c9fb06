import type { RequestHandler } from 'express';
import { InvalidRequest } from '../../errors.js';
import { guardedMasterKey, type MasterKeyLimiter } from '../../keys/master-key-guard.js';
import { setApiCaller } from '../../secrets/api-caller.js';
import type { TokenService } from '../../tokens/token.service.js';
import { bodyTooLarge } from './error-handler.js';

const CREDENTIALS_IN_QUERY = ['token', 'access_token', 'master_key'];

const API_HEADERS = new Map([
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
]);

/** The security headers of a JSON API response (OWASP REST Security Cheat Sheet), set in one call. */
export const apiSecurityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeaders(API_HEADERS);
  next();
};

/**
 * Anywhere under /api/v1, before anything else: a token or master key in the URL is refused (URLs
 * end up in logs and histories), and so is a body declaring more than `maxBodyBytes`, before a byte
 * of it is read, with the connection closed so the client need not send it (body-parser would
 * drain it first; a chunked body is still held to the limit while it is parsed).
 */
export function apiRequestRules(maxBodyBytes: number): RequestHandler {
  return (req, res, next) => {
    if (CREDENTIALS_IN_QUERY.some((name) => name in req.query)) {
      return next(new InvalidRequest('credentials go in the Authorization and X-Master-Key headers, never in the URL'));
    }
    if (Number(req.get('content-length') ?? 0) > maxBodyBytes) {
      res.set('Connection', 'close');
      return next(bodyTooLarge(maxBodyBytes));
    }
    next();
  };
}

/**
 * Bearer token first (a bad one never reaches the KDF), then the master key header, turned into
 * bytes here.
 */
export function authenticateApi(deps: {
  tokens: Pick<TokenService, 'authenticate'>;
  limiter: MasterKeyLimiter;
}): RequestHandler {
  return async (req, _res, next) => {
    try {
      const [scheme, token] = (req.get('authorization') ?? '').split(' ');
      const from = { ip: req.ip, userAgent: req.get('user-agent') };
      const authenticated = await deps.tokens.authenticate(
        scheme?.toLowerCase() === 'bearer' && token ? token : '',
        from,
      );
      const header = req.get('x-master-key');
      const guard = deps.limiter.guard(authenticated.id);
      setApiCaller(req, {
        token: authenticated,
        actor: { name: `token:${authenticated.id}`, ...from },
        masterKey: header ? await guardedMasterKey(header, guard) : undefined,
        guard,
      });
      next();
    } catch (error) {
      next(error);
    }
  };
}
