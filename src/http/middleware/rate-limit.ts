import type { Request, RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { RateLimited } from '../../errors.js';

export interface LimitOptions {
  readonly windowSeconds: number;
  /** Requests per window and key; the numbers come from Config. */
  readonly limit: number;
  /** What is counted: the client IP when absent. */
  readonly key?: (req: Request) => string;
  /** Count only answers of 400 and above (failed sign-ins). */
  readonly failuresOnly?: boolean;
  /** Send the RateLimit headers (off for a second limiter on the same route, which would overwrite them). */
  readonly headers?: boolean;
  readonly message?: string;
  /** Where the counts live: shared by every instance on PostgreSQL (rate-limit-store.ts); memory when absent. */
  readonly store?: Store | undefined;
}

/**
 * Every request limiter, declared on the route line: `limiter({ windowSeconds: 60, limit: 5 })`.
 * Over the limit it raises RateLimited, so the error handler answers 429 with Retry-After, as JSON
 * or as a page.
 */
export function limiter(options: LimitOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowSeconds * 1000,
    limit: options.limit,
    ...(options.key && { keyGenerator: options.key }),
    skipSuccessfulRequests: options.failuresOnly ?? false,
    standardHeaders: (options.headers ?? true) ? 'draft-8' : false,
    legacyHeaders: false,
    ...(options.store && { store: options.store }),
    handler: (req, _res, next) => {
      const { resetTime } = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit ?? {};
      next(RateLimited.until(resetTime, options.message));
    },
  });
}
