import type { Request, RequestHandler } from 'express';
import { MemoryStore, type Options } from 'express-rate-limit';
import type { Actor, AuditService } from '../../audit/audit.service.js';
import { InvalidMasterKey, InvalidRequest, RateLimited } from '../../errors.js';
import type { DerivationGuard } from '../../keys/key.service.js';
import { presentedMasterKey } from '../../keys/master-key.js';
import type { AuthenticatedToken, TokenService } from '../../tokens/token.service.js';
import { bodyTooLarge } from './error-handler.js';

/** What an authenticated API request carries to its handler. */
export interface ApiCaller {
  readonly token: AuthenticatedToken;
  readonly actor: Actor;
  /** The X-Master-Key header as bytes (absent: the handler fails before any derivation). */
  readonly masterKey: Uint8Array | undefined;
  readonly guard: DerivationGuard;
}

const CREDENTIALS_IN_QUERY = ['token', 'access_token', 'master_key'];

/**
 * Counts wrong master keys per token in express-rate-limit's store. A slot is taken before every
 * derivation and given back when the key was right, so concurrent guesses cannot overshoot the limit.
 */
export function createMasterKeyLimiter(perMinute: number) {
  const store = new MemoryStore();
  store.init({ windowMs: 60_000 } as Options);
  return {
    guard(tokenId: string): DerivationGuard {
      return {
        async before() {
          const { totalHits, resetTime } = await store.increment(tokenId);
          if (totalHits > perMinute) {
            await store.decrement(tokenId);
            throw RateLimited.until(resetTime);
          }
        },
        async after(succeeded) {
          if (succeeded) await store.decrement(tokenId);
        },
      };
    },
    shutdown: () => store.shutdown(),
  };
}

export type MasterKeyLimiter = ReturnType<typeof createMasterKeyLimiter>;

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

export const apiCaller = (req: Request): ApiCaller => (req as Request & { apiCaller: ApiCaller }).apiCaller;

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
      const authenticated = await deps.tokens.authenticate(scheme?.toLowerCase() === 'bearer' && token ? token : '');
      const header = req.get('x-master-key');
      const caller: ApiCaller = {
        token: authenticated,
        actor: { name: `token:${authenticated.id}`, ip: req.ip, userAgent: req.get('user-agent') },
        masterKey: header ? presentedOrUndefined(header) : undefined,
        guard: deps.limiter.guard(authenticated.id),
      };
      if (header && !caller.masterKey) {
        // Malformed: it cannot be right. It costs no derivation but counts as a wrong key.
        await caller.guard.before();
        await caller.guard.after(false);
      }
      (req as Request & { apiCaller: ApiCaller }).apiCaller = caller;
      next();
    } catch (error) {
      next(error);
    }
  };
}

function presentedOrUndefined(header: string): Uint8Array | undefined {
  try {
    return presentedMasterKey(header);
  } catch (error) {
    if (error instanceof InvalidMasterKey) return undefined;
    throw error;
  }
}

export function auditDenied(
  audit: Pick<AuditService, 'enqueue'>,
  caller: ApiCaller,
  reason: string,
  key?: string,
): void {
  audit.enqueue({
    actor: caller.actor,
    action: 'api_denied',
    projectId: caller.token.projectId,
    environment: caller.token.environment,
    key: key ?? null,
    details: { token_id: caller.token.id, reason },
  });
}
