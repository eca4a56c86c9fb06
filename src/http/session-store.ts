import fs from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import session from 'express-session';
import { sha256Hex } from '../crypto/hash.js';

export interface SessionStoreOptions {
  /** The SQLite file (DATA_DIR/sessions.db). */
  readonly file: string;
  /** Absolute lifetime from sign-in (SESSION_TTL), in milliseconds. */
  readonly ttlMs: number;
  /** Lifetime without a request (SESSION_IDLE_TIMEOUT), in milliseconds. */
  readonly idleMs: number;
  /** Epoch milliseconds; tests pass a fake clock. */
  readonly now: () => number;
  /** Told the key (SHA-256 of the sid, see `sessionKey`) of every session that ends: sign-out, expiry, purge. */
  readonly onEnd: (key: string) => void;
}

type Callback<T = void> = (error?: unknown, result?: T | null) => void;

/**
 * The name a session goes by everywhere but in its cookie. The store keeps only this hash, so a
 * copy of sessions.db (with the session-secret beside it) holds no id that a forged cookie could
 * carry: signing a stored hash gives a cookie whose hash matches nothing.
 */
export const sessionKey = (sid: string): string => sha256Hex(sid);

/**
 * express-session's store over better-sqlite3 (one SQLite driver in the project, no native
 * `sqlite3`). Rows are keyed by `sessionKey(sid)`, never the sid; each expires at the earlier of
 * sign-in + TTL and last request + idle timeout, and is gone (with `onEnd`) once it has.
 */
export class HashedSessionStore extends session.Store {
  readonly #db: SqliteDatabase.Database;
  readonly #options: SessionStoreOptions;
  readonly #statements;

  constructor(options: SessionStoreOptions) {
    super();
    this.#options = options;
    fs.closeSync(fs.openSync(options.file, 'a', 0o600));
    this.#db = new SqliteDatabase(options.file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    // Deleted rows are overwritten, not left in free pages for a copy of the file to recover.
    this.#db.pragma('secure_delete = ON');
    // connect-sqlite3's table held raw session ids: usable cookies for anyone with the file.
    this.#db.exec('DROP TABLE IF EXISTS sessions');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS admin_sessions (
      key TEXT PRIMARY KEY, data TEXT NOT NULL, signed_in_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
    this.#db.exec('CREATE INDEX IF NOT EXISTS admin_sessions_expires ON admin_sessions (expires_at)');
    this.#statements = {
      get: this.#db.prepare<[string], { data: string; expires_at: number }>(
        'SELECT data, expires_at FROM admin_sessions WHERE key = ?',
      ),
      // The absolute deadline counts from the row's first write: sign-in, since nothing is stored before.
      set: this.#db.prepare<{ key: string; data: string; now: number; ttl: number; idle: number }>(
        `INSERT INTO admin_sessions (key, data, signed_in_at, expires_at) VALUES (:key, :data, :now, :now + MIN(:ttl, :idle))
         ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = MIN(signed_in_at + :ttl, :now + :idle)
         WHERE expires_at > :now`,
      ),
      touch: this.#db.prepare<{ key: string; now: number; ttl: number; idle: number }>(
        'UPDATE admin_sessions SET expires_at = MIN(signed_in_at + :ttl, :now + :idle) WHERE key = :key AND expires_at > :now',
      ),
      destroy: this.#db.prepare<[string]>('DELETE FROM admin_sessions WHERE key = ?'),
      expired: this.#db.prepare<[number], { key: string }>(
        'DELETE FROM admin_sessions WHERE expires_at <= ? RETURNING key',
      ),
      count: this.#db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM admin_sessions'),
    };
  }

  override get(sid: string, callback: Callback<session.SessionData>): void {
    this.#answer(callback, () => {
      const key = sessionKey(sid);
      const row = this.#statements.get.get(key);
      if (!row) return null;
      if (row.expires_at <= this.#options.now()) {
        this.#end(key);
        return null;
      }
      return JSON.parse(row.data) as session.SessionData;
    });
  }

  override set(sid: string, data: session.SessionData, callback?: Callback): void {
    this.#answer(callback, () => {
      this.#statements.set.run({ key: sessionKey(sid), data: JSON.stringify(data), ...this.#clock() });
    });
  }

  override touch(sid: string, _data: session.SessionData, callback?: Callback): void {
    this.#answer(callback, () => {
      this.#statements.touch.run({ key: sessionKey(sid), ...this.#clock() });
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.#answer(callback, () => this.#end(sessionKey(sid)));
  }

  /** Deletes every expired row and ends its session (run on a timer, at least hourly). */
  purgeExpired(): number {
    const gone = this.#statements.expired.all(this.#options.now());
    for (const { key } of gone) this.#options.onEnd(key);
    return gone.length;
  }

  /** Rows stored (tests: nothing may be stored before sign-in). */
  size(): number {
    return this.#statements.count.get()!.n;
  }

  close(): void {
    this.#db.close();
  }

  #end(key: string): void {
    this.#statements.destroy.run(key);
    this.#options.onEnd(key);
  }

  #clock() {
    return { now: this.#options.now(), ttl: this.#options.ttlMs, idle: this.#options.idleMs };
  }

  /** Store methods answer through callbacks, after the current tick, as express-session expects. */
  #answer<T>(callback: Callback<T> | undefined, work: () => T | null | void): void {
    let result: T | null | void = null;
    let failure: unknown;
    try {
      result = work();
    } catch (error) {
      failure = error;
    }
    if (callback) queueMicrotask(() => (failure ? callback(failure) : callback(null, result ?? null)));
  }
}
