import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import session from 'express-session';
import type { RequestHandler } from 'express';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/open.js';
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

/**
 * The cookie signing secret: SESSION_SECRET, else the generated one. On PostgreSQL it is generated
 * once into server_settings, by whichever instance starts first, so that every instance accepts the
 * cookies of every other. (Like the DATA_DIR file on SQLite, it is beside the data it protects: the
 * store keeps only hashes of session ids, so the secret alone opens no session.)
 */
export async function resolveSessionSecret(config: Config, database: DatabaseHandle): Promise<string> {
  if (config.sessionSecret) return config.sessionSecret;
  if (database.engine === 'sqlite') return sessionSecret(config);
  const generated = randomBytes(32).toString('hex');
  await sql`insert into server_settings (name, value) values ('session_secret', ${generated})
            on conflict (name) do nothing`.execute(database.db);
  const row = await sql<{
    value: string;
  }>`select value from server_settings where name = 'session_secret'`.execute(database.db);
  return row.rows[0]!.value;
}

/** Expired rows go at least this often, whether or not their owner comes back. */
const PURGE_EVERY_MS = 60_000;

export interface SessionOptions {
  /** Epoch milliseconds; the same clock as the services (a test's fake clock). */
  readonly now: () => number;
  /** A session ended (sign-out, absolute or idle expiry): drop what it held, e.g. its unseals (by sessionKey). */
  readonly onEnd: (holder: string) => void;
  /** The cookie signing secret (resolveSessionSecret). */
  readonly secret: string;
  /** The sessions whose unseals this process holds: each minute, those whose session ended anywhere are ended here too. */
  readonly holders: () => string[];
  /** PostgreSQL's pool: sessions live there, for every instance; else DATA_DIR/sessions.db. */
  readonly pool?: import('pg').Pool | undefined;
}

/**
 * Admin sessions in DATA_DIR/sessions.db, or PostgreSQL for every instance: HttpOnly, SameSite=Strict, Secure behind HTTPS; stored
 * under a hash of their id only; at most SESSION_TTL from sign-in and SESSION_IDLE_TIMEOUT between
 * requests. Nothing is stored before sign-in (saveUninitialized false, and the anonymous forms'
 * CSRF check needs no session).
 */
export function createSessionMiddleware(
  config: Config,
  options: SessionOptions,
): { middleware: RequestHandler; store: HashedSessionStore; close(): void } {
  const store = new HashedSessionStore({
    ...(options.pool ? { pool: options.pool } : { file: path.join(config.dataDir, 'sessions.db') }),
    ttlMs: config.sessionTtlSeconds * 1000,
    idleMs: config.sessionIdleTimeoutSeconds * 1000,
    now: options.now,
    onEnd: options.onEnd,
  });
  // A purge that fails (the database briefly away) is simply the next minute's work.
  const purge = () =>
    void store
      .purgeExpired()
      .then(() => store.dropEnded(options.holders()))
      .catch(() => undefined);
  purge();
  const purging = setInterval(purge, PURGE_EVERY_MS).unref();
  const middleware = session({
    name: 'sf.sid',
    secret: options.secret,
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
      clearInterval(purging);
      store.close();
    },
  };
}
