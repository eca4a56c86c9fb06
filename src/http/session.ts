import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import connectSqlite3 from 'connect-sqlite3';
import session from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';

declare module 'express-session' {
  interface SessionData {
    /** The signed-in admin. With the CSRF token and flash messages, all a session ever holds. */
    userId?: string;
    flash?: { kind: 'success' | 'error'; message: string }[];
  }
}

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * connect-sqlite3 takes an open database with node-sqlite3's callback API. This gives it one over
 * better-sqlite3, so the project needs a single SQLite driver (and no second native build).
 */
function sqlite3Api(file: string) {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const run = (method: 'run' | 'get' | 'all', sql: string, params: unknown[], callback?: Callback) => {
    let error: Error | null = null;
    let result: unknown;
    try {
      const statement = db.prepare(sql);
      // The store calls all() for an INSERT; better-sqlite3 only lets readers return rows.
      result = method === 'run' || !statement.reader ? statement.run(...params) : statement[method](...params);
    } catch (caught) {
      error = caught as Error;
    }
    if (callback) queueMicrotask(() => callback(error, result));
  };
  return {
    close: () => db.close(),
    run: (sql: string, params: unknown[], callback?: Callback) => run('run', sql, params, callback),
    get: (sql: string, params: unknown[], callback?: Callback) => run('get', sql, params, callback),
    all: (sql: string, params: unknown[] | Callback, callback?: Callback) =>
      typeof params === 'function' ? run('all', sql, [], params) : run('all', sql, params, callback),
    exec: (sql: string, callback?: Callback) => {
      let error: Error | null = null;
      try {
        db.exec(sql);
      } catch (caught) {
        error = caught as Error;
      }
      if (callback) queueMicrotask(() => callback(error));
    },
  };
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

/** Admin sessions in DATA_DIR/sessions.db: HttpOnly, SameSite=Strict, Secure behind HTTPS. */
export function createSessionMiddleware(config: Config): { middleware: RequestHandler; close(): void } {
  const SQLiteStore = connectSqlite3(session);
  const db = sqlite3Api(path.join(config.dataDir, 'sessions.db'));
  const store = new SQLiteStore({ db, table: 'sessions' } as never);
  const middleware = session({
    name: 'sf.sid',
    secret: sessionSecret(config),
    store: store as unknown as session.Store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: config.trustProxy,
    cookie: {
      httpOnly: true,
      sameSite: 'strict',
      // 'auto': Secure whenever the request came over HTTPS (directly, or per X-Forwarded-Proto with TRUST_PROXY).
      secure: 'auto',
      maxAge: config.sessionTtlSeconds * 1000,
    },
  });
  return { middleware, close: () => db.close() };
}
