import type pg from 'pg';
import session from 'express-session';
import { sha256Hex } from '../crypto/hash.js';
import { postgresSessionRows, type SessionRows, sqliteSessionRows } from './session-rows.js';

export interface SessionStoreOptions {
  /** Where the rows live: the SQLite file DATA_DIR/sessions.db, or PostgreSQL's admin_sessions table. */
  readonly file?: string;
  readonly pool?: pg.Pool;
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
 * express-session's store, over sessions.db (better-sqlite3: one SQLite driver in the project, no
 * native `sqlite3`) or PostgreSQL (so any instance serves any signed-in admin). Rows are keyed by
 * `sessionKey(sid)`, never the sid; each expires at the earlier of sign-in + TTL and last request
 * + idle timeout, and is gone (with `onEnd`) once it has. connect-pg-simple, the maintained
 * PostgreSQL store, keeps the raw sid (a copy of the table would be a set of live admin cookies)
 * and revives a session that a racing save writes after sign-out; both rules hold here on both
 * engines with the same five statements (session-rows.ts).
 */
export class HashedSessionStore extends session.Store {
  readonly #rows: SessionRows;
  readonly #options: SessionStoreOptions;

  constructor(options: SessionStoreOptions) {
    super();
    this.#options = options;
    if (options.pool) this.#rows = postgresSessionRows(options.pool);
    else if (options.file) this.#rows = sqliteSessionRows(options.file);
    else throw new Error('a session store needs a file or a PostgreSQL pool');
  }

  override get(sid: string, callback: Callback<session.SessionData>): void {
    this.#answer(callback, async () => {
      const key = sessionKey(sid);
      const row = await this.#rows.get(key);
      if (!row) return null;
      if (row.expires_at <= this.#options.now()) {
        await this.#end(key);
        return null;
      }
      return JSON.parse(row.data) as session.SessionData;
    });
  }

  override set(sid: string, data: session.SessionData, callback?: Callback): void {
    this.#answer(callback, async () => {
      const clock = this.#clock();
      const signedInAt = data.signedInAt ?? clock.now;
      if (signedInAt + clock.ttl <= clock.now) return;
      const stored = JSON.stringify({ ...data, signedInAt });
      await this.#rows.set({ key: sessionKey(sid), data: stored, signedInAt, ...clock });
    });
  }

  override touch(sid: string, _data: session.SessionData, callback?: Callback): void {
    this.#answer(callback, () => this.#rows.touch({ key: sessionKey(sid), ...this.#clock() }));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.#answer(callback, () => this.#end(sessionKey(sid)));
  }

  /**
   * Ends every expired session (its row becomes a tombstone, dropped past its absolute deadline);
   * run every minute, by every instance on PostgreSQL: a second run finds nothing left to end.
   */
  async purgeExpired(): Promise<number> {
    const { now, ttl } = this.#clock();
    const gone = await this.#rows.expired({ now, ttl });
    await this.#rows.dropDead(now);
    for (const key of gone) this.#options.onEnd(key);
    return gone.length;
  }

  /**
   * Ends, here, the sessions among `holders` that ended anywhere: with several instances, another
   * one may have signed a session out or purged it, and only this one holds its unseals.
   */
  async dropEnded(holders: readonly string[]): Promise<void> {
    if (holders.length === 0) return;
    const live = await this.#rows.live(holders, this.#options.now());
    for (const key of holders) if (!live.has(key)) this.#options.onEnd(key);
  }

  /** Live sessions stored (tests: nothing may be stored before sign-in). */
  size(): Promise<number> {
    return this.#rows.count();
  }

  close(): void {
    this.#rows.close();
  }

  async #end(key: string): Promise<void> {
    await this.#rows.end({ key, ttl: this.#options.ttlMs });
    this.#options.onEnd(key);
  }

  #clock() {
    return { now: this.#options.now(), ttl: this.#options.ttlMs, idle: this.#options.idleMs };
  }

  /** Store methods answer through callbacks, after the current tick, as express-session expects. */
  #answer<T>(callback: Callback<T> | undefined, work: () => Promise<T | null | void> | T | null | void): void {
    let done: Promise<T | null | void>;
    try {
      done = Promise.resolve(work());
    } catch (error) {
      done = Promise.reject(error);
    }
    done.then(
      (result) => callback?.(null, result ?? null),
      (failure: unknown) => callback?.(failure),
    );
  }
}
