import type { RequestHandler } from 'express';
import { InvalidRequest } from '../../errors.js';
import type { MasterKeyLimiter } from '../../keys/master-key-guard.js';
import { readPresentedMasterKey } from '../../keys/master-key.js';
import { setApiCaller } from '../../secrets/api-caller.js';
import type { TokenService } from '../../tokens/token.service.js';
import { bodyTooLarge } from './error-handler.js';

const CREDENTIALS_IN_QUERY = new Set(['token', 'access_token', 'master_key', 'x_master_key']);
const LOOKS_LIKE_CREDENTIAL = /sf(st|mk|zk)_[A-Za-z0-9_-]{16}/;

/**
 * Whether the raw query string names a credential in any spelling a framework or client might
 * accept: any case, `-` for `_`, and with a bracket suffix (`?Token=`, `?MASTER_KEY[]=`,
 * `?x-master-key=`). The raw string is read rather than `req.query`, whose keys depend on which
 * query parser is configured (`a[]` stays `a[]` in one, becomes `a` in the other).
 */
function namesCredential(url: string): boolean {
  const start = url.indexOf('?');
  if (start === -1) return false;
  for (const [name, value] of new URLSearchParams(url.slice(start + 1))) {
    const base = name.split('[')[0]!.trim().toLowerCase().replaceAll('-', '_');
    // Whatever the name (`?t=`, `?auth=`), a value shaped like one of our tokens or master keys.
    if (CREDENTIALS_IN_QUERY.has(base) || LOOKS_LIKE_CREDENTIAL.test(value)) return true;
  }
  return false;
}

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
    if (namesCredential(req.originalUrl)) {
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
      // Wrong keys count per token and source address: a token holder guessing elsewhere cannot
      // spend this caller's allowance (createMasterKeyLimiter).
      const guard = deps.limiter.guard(authenticated.id, req.ip ?? '');
      setApiCaller(req, {
        token: authenticated,
        actor: { name: `token:${authenticated.id}`, ...from },
        // A malformed key cannot be right: refused later without a derivation and, unlike a wrong
        // one, not counted, so sending `X-Master-Key: x` spends nobody's allowance.
        masterKey: header ? readPresentedMasterKey(header) : undefined,
        masterKeySent: header !== undefined,
        guard,
      });
      next();
    } catch (error) {
      next(error);
    }
  };
}
