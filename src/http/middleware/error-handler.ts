import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { AppError, type ErrorCode, InvalidRequest, NoSuchRoute, RateLimited, TooLarge } from '../../errors.js';
import { errorSummary, type Logger } from '../../logger.js';
import type { HtmlErrorAnswer } from '../../ui/ui-kit.js';

/** The HTTP status of every error code, API and UI alike; the compiler refuses a missing code. */
export const HTTP_STATUS = {
  invalid_request: 400,
  invalid_token: 401,
  invalid_signature: 401,
  invalid_master_key: 401,
  forbidden: 403,
  not_found: 404,
  already_exists: 409,
  version_conflict: 409,
  integrity_failed: 409,
  key_rotated: 409,
  gone: 410,
  too_large: 413,
  not_representable: 422,
  unresolvable_reference: 422,
  sealed: 423,
  rate_limited: 429,
  internal_error: 500,
  // Raised by the CLI's backup, restore and argument handling; no route reaches them.
  invalid_backup: 400,
  database_exists: 409,
  database_in_use: 409,
  cli_error: 400,
  usage: 400,
} as const satisfies Record<ErrorCode, number>;

/** `1 MiB`, `256 KiB`: a body limit as people write it. */
const sizeOf = (bytes: number) =>
  bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${Math.round(bytes / 1024)} KiB`;

export const bodyTooLarge = (limitBytes: number) => new TooLarge(`request body larger than ${sizeOf(limitBytes)}`);

/** Our errors as they are; body-parser's (it sets `type`) mapped to our codes; anything else is unexpected. */
function knownError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const { type, status, limit } = (error ?? {}) as { type?: string; status?: number; limit?: number };
  if (type === 'entity.too.large') return bodyTooLarge(limit ?? 1024 * 1024);
  if (type === 'entity.parse.failed') return new InvalidRequest('request body is not valid JSON');
  if (typeof status === 'number' && status >= 400 && status < 500) return new InvalidRequest('malformed request');
  return undefined;
}

/** API paths, Slack, and anyone who prefers JSON to HTML get `{"error":{…}}`; browsers get a page. */
function wantsJson(req: Request): boolean {
  const path = req.originalUrl;
  return path.startsWith('/api/') || path.startsWith('/integrations/') || req.accepts(['html', 'json']) === 'json';
}

/**
 * The one place errors become responses, with the status of their code (HTTP_STATUS): JSON
 * `{"error":{"code","message"}}`, or, when the UI is on, `pages` answers an HTML request (the form
 * again, a flash and a redirect, or the error page). An unexpected error is logged once as a safe
 * summary and answered as `internal_error`, never with its details.
 */
export function errorHandler(logger: Logger, pages?: HtmlErrorAnswer): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const known = knownError(error);
    if (!known) logger.error('unhandled error', { path: loggedPath(req), ...errorSummary(error) });
    const code: ErrorCode = known?.code ?? 'internal_error';
    const status = HTTP_STATUS[code];
    if (known instanceof RateLimited) res.set('Retry-After', String(known.retryAfterSeconds));
    if (pages && !wantsJson(req)) {
      pages(req, res, status, known).catch((failed: unknown) => {
        logger.error('error page failed', { path: loggedPath(req), ...errorSummary(failed) });
        if (!res.headersSent) res.status(500).type('text/plain').send('internal error');
      });
      return;
    }
    res.status(status).json({ error: { code, message: known?.message ?? 'internal error' } });
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new NoSuchRoute(`no route for ${req.method} ${req.path}`));
};

/**
 * One debug line per request (unexpected errors are logged by the error handler at any level).
 * Paths only: query strings (where a careless client might put a token) never reach a log line.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.debug('request', {
        method: req.method,
        path: loggedPath(req),
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
      });
    });
    next();
  };
}

/**
 * A request's path as a log line may show it: any segment after `/secrets/` masked (the key of the
 * API and of the UI's secret pages), and any segment holding something shaped like one of our
 * credentials (a token, a token proof, a master key pasted into the path). The path is the client's
 * text, and a value pasted where a key goes must not reach the logs. The query string never does.
 */
export function loggedPath(req: Request): string {
  return req.originalUrl
    .split('?')[0]!
    .replace(/(\/secrets\/)[^/]+/g, '$1:key')
    .replace(/[^/]*sf(?:st|mk|zk)(?:_|%5f)[^/]*/gi, ':credential');
}
