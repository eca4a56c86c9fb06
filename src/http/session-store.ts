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
      // A row whose data is '' is a tombstone: the session ended (sign-out, expiry) and may not come back.
      get: this.#db.prepare<[string], { data: string; expires_at: number }>(
        "SELECT data, expires_at FROM admin_sessions WHERE key = ? AND data <> ''",
      ),
      // The absolute deadline counts from sign-in, stamped into the session's data when its row is
      // first written. A request that loaded the session before it ended and saves it afterwards
      // finds the tombstone and writes nothing, so it cannot give the session a new lifetime.
      set: this.#db.prepare<{ key: string; data: string; signedInAt: number; now: number; ttl: number; idle: number }>(
        `INSERT INTO admin_sessions (key, data, signed_in_at, expires_at)
         VALUES (:key, :data, :signedInAt, MIN(:signedInAt + :ttl, :now + :idle))
         ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = MIN(signed_in_at + :ttl, :now + :idle)
         WHERE expires_at > :now AND data <> ''`,
      ),
      touch: this.#db.prepare<{ key: string; now: number; ttl: number; idle: number }>(
        "UPDATE admin_sessions SET expires_at = MIN(signed_in_at + :ttl, :now + :idle) WHERE key = :key AND expires_at > :now AND data <> ''",
      ),
      // Kept as a tombstone until the session's absolute deadline, after which nothing can revive it.
      end: this.#db.prepare<{ key: string; ttl: number }>(
        "UPDATE admin_sessions SET data = '', expires_at = signed_in_at + :ttl WHERE key = :key AND data <> ''",
      ),
      expired: this.#db.prepare<{ now: number; ttl: number }>(
        "UPDATE admin_sessions SET data = '', expires_at = signed_in_at + :ttl WHERE data <> '' AND expires_at <= :now RETURNING key",
      ),
      dropDead: this.#db.prepare<[number]>("DELETE FROM admin_sessions WHERE data = '' AND expires_at <= ?"),
      count: this.#db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM admin_sessions WHERE data <> ''"),
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
      const clock = this.#clock();
      const signedInAt = data.signedInAt ?? clock.now;
      if (signedInAt + clock.ttl <= clock.now) return;
      const stored = JSON.stringify({ ...data, signedInAt });
      this.#statements.set.run({ key: sessionKey(sid), data: stored, signedInAt, ...clock });
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

  /** Ends every expired session (its row becomes a tombstone, dropped past its absolute deadline); run every minute. */
  purgeExpired(): number {
    const { now, ttl } = this.#clock();
    const gone = this.#statements.expired.all({ now, ttl }) as { key: string }[];
    this.#statements.dropDead.run(now);
    for (const { key } of gone) this.#options.onEnd(key);
    return gone.length;
  }

  /** Live sessions stored (tests: nothing may be stored before sign-in). */
  size(): number {
    return this.#statements.count.get()!.n;
  }

  close(): void {
    this.#db.close();
  }

  #end(key: string): void {
    this.#statements.end.run({ key, ttl: this.#options.ttlMs });
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
