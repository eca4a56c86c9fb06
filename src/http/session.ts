import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import { HashedSessionStore } from './session-store.js';

declare module 'express-session' {
  interface SessionData {
    /**
     * The signed-in admin. With the CSRF token and flash messages, all a session ever holds: never a
     * key, and nothing that lets a copy of the store act as the admin (see session-store.ts).
     */
    userId?: string;
    /** Epoch ms of the session's first save (sign-in): the start of SESSION_TTL, stamped by the store. */
    signedInAt?: number;
    flash?: { kind: 'success' | 'error'; message: string }[];
  }
}

/** SESSION_SECRET, else one generated once into DATA_DIR/session-secret (mode 0600). */
export function sessionSecret(config: Config): string {
  if (config.sessionSecret) return config.sessionSecret;
  const file = path.join(config.dataDir, 'session-secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    // 'wx': if another process created it first, read theirs instead of overwriting it.
    try {
      fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      return secret;
    } catch {
      return fs.readFileSync(file, 'utf8').trim();
    }
  }
}

/** Expired rows go at least this often, whether or not their owner comes back. */
const PURGE_EVERY_MS = 60_000;

export interface SessionOptions {
  /** Epoch milliseconds; the same clock as the services (a test's fake clock). */
  readonly now: () => number;
  /** A session ended (sign-out, absolute or idle expiry): drop what it held, e.g. its unseals (by sessionKey). */
  readonly onEnd: (holder: string) => void;
}

/**
 * Admin sessions in DATA_DIR/sessions.db: HttpOnly, SameSite=Strict, Secure behind HTTPS; stored
 * under a hash of their id only; at most SESSION_TTL from sign-in and SESSION_IDLE_TIMEOUT between
 * requests. Nothing is stored before sign-in (saveUninitialized false, and the anonymous forms'
 * CSRF check needs no session).
 */
export function createSessionMiddleware(
  config: Config,
  options: SessionOptions,
): { middleware: RequestHandler; store: HashedSessionStore; close(): void } {
  const store = new HashedSessionStore({
    file: path.join(config.dataDir, 'sessions.db'),
    ttlMs: config.sessionTtlSeconds * 1000,
    idleMs: config.sessionIdleTimeoutSeconds * 1000,
    now: options.now,
    onEnd: options.onEnd,
  });
  store.purgeExpired();
  const purge = setInterval(() => store.purgeExpired(), PURGE_EVERY_MS).unref();
  const middleware = session({
    name: 'sf.sid',
    secret: sessionSecret(config),
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: config.trustProxy,
    cookie: {
      httpOnly: true,
      sameSite: 'strict',
      // 'auto': Secure whenever the request came over HTTPS (directly, or per X-Forwarded-Proto with TRUST_PROXY).
      secure: 'auto',
      // The browser forgets it when the server would refuse it anyway (SESSION_TTL is absolute).
      maxAge: config.sessionTtlSeconds * 1000,
    },
  });
  return {
    middleware,
    store,
    close: () => {
      clearInterval(purge);
      store.close();
    },
  };
}
