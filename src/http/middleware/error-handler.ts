import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, RateLimited } from '../../errors.js';
import { errorSummary, type Logger } from '../../logger.js';

const STATUS: Record<string, number> = {
  invalid_request: 400,
  invalid_token: 401,
  invalid_signature: 401,
  invalid_master_key: 401,
  forbidden: 403,
  not_found: 404,
  already_exists: 409,
  version_conflict: 409,
  key_rotated: 409,
  gone: 410,
  too_large: 413,
  not_representable: 422,
  sealed: 423,
  rate_limited: 429,
};

/** Errors from body parsing (body-parser sets `type`): map them to our codes. */
function fromBodyParser(error: { type?: string; status?: number }): AppError | undefined {
  if (error.type === 'entity.too.large') return new AppError('too_large', 'request body larger than 1 MiB');
  if (error.type === 'entity.parse.failed') return new AppError('invalid_request', 'request body is not valid JSON');
  if (typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    return new AppError('invalid_request', 'malformed request');
  }
  return undefined;
}

/** The one place errors become responses: `{"error":{"code","message"}}` with the right status. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const known = error instanceof AppError ? error : fromBodyParser(error as { type?: string; status?: number });
    if (!known) {
      logger.error('unhandled error', { path: req.path, ...errorSummary(error) });
    }
    const status = known ? (STATUS[known.code] ?? 400) : 500;
    if (known instanceof RateLimited) res.set('Retry-After', String(known.retryAfterSeconds));
    res.status(status).json({
      error: known
        ? { code: known.code, message: known.message }
        : { code: 'internal_error', message: 'internal error' },
    });
  };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
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
      const path = req.originalUrl.split('?')[0];
      logger.debug('request', { method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10 });
    });
    next();
  };
}
