import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type pg from 'pg';

/**
 * express-rate-limit's Store over our own PostgreSQL table (rate_limits), so that every instance
 * counts into the same window: three instances allow what one allows, not three times as much.
 * Each count is one upsert that starts a new window when the old one has ended, so concurrent
 * increments from any number of instances are exact. (A maintained PostgreSQL store exists, but
 * it brings its own schema and migrations outside ours; this is four statements on our pool.)
 * On SQLite there is one process, and express-rate-limit's MemoryStore stays (stores() below).
 */
/** Epoch milliseconds by the database's clock: windows agree across instances whatever their clocks. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** Keys remembered as over their limit, at most (each until its window ends). */
const MAX_BLOCKED = 10_000;

export class DatabaseRateStore implements Store {
  readonly prefix: string;
  readonly localKeys = false;
  #windowMs = 60_000;
  #limit: number | undefined;
  readonly #pool: pg.Pool;
  /**
   * Keys the database said are over their limit, until their window ends: a flood from one client
   * is answered 429 here without a write per request. Only a refusal is remembered, never an
   * allowance, so no instance lets more through than the shared count allows.
   */
  readonly #blocked = new Map<string, { hits: number; resetAt: number }>();

  constructor(pool: pg.Pool, prefix: string) {
    this.#pool = pool;
    this.prefix = prefix;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
    this.#limit = typeof options.limit === 'number' ? options.limit : undefined;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const { rows } = await this.#pool.query<{ hits: number; reset_at: number }>({
      name: 'secretsfly_limit_get',
      text: `select hits, reset_at from rate_limits where key = $1 and reset_at > ${DB_NOW}`,
      values: [this.#key(key)],
    });
    return rows[0] && { totalHits: rows[0].hits, resetTime: new Date(Number(rows[0].reset_at)) };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const blocked = this.#blocked.get(key);
    if (blocked && blocked.resetAt > Date.now()) {
      blocked.hits += 1;
      return { totalHits: blocked.hits, resetTime: new Date(blocked.resetAt) };
    }
    this.#blocked.delete(key);
    const { rows } = await this.#pool.query<{ hits: number; reset_at: number }>({
      name: 'secretsfly_limit_increment',
      text: `insert into rate_limits (key, hits, reset_at) values ($1, 1, ${DB_NOW} + $2::bigint)
             on conflict (key) do update set
               hits = case when rate_limits.reset_at <= ${DB_NOW} then 1 else rate_limits.hits + 1 end,
               reset_at = case when rate_limits.reset_at <= ${DB_NOW} then excluded.reset_at else rate_limits.reset_at end
             returning hits, reset_at`,
      values: [this.#key(key), this.#windowMs],
    });
    const row = rows[0]!;
    const resetAt = Number(row.reset_at);
    if (this.#limit !== undefined && row.hits > this.#limit) {
      if (this.#blocked.size >= MAX_BLOCKED) this.#blocked.clear();
      this.#blocked.set(key, { hits: row.hits, resetAt });
    }
    return { totalHits: row.hits, resetTime: new Date(resetAt) };
  }

  async decrement(key: string): Promise<void> {
    await this.#pool.query({
      name: 'secretsfly_limit_decrement',
      text: `update rate_limits set hits = greatest(hits - 1, 0) where key = $1 and reset_at > ${DB_NOW}`,
      values: [this.#key(key)],
    });
  }

  async resetKey(key: string): Promise<void> {
    this.#blocked.delete(key);
    await this.#pool.query('delete from rate_limits where key = $1', [this.#key(key)]);
  }

  #key(key: string): string {
    return `${this.prefix}:${key}`.slice(0, 400);
  }
}

/**
 * Claims `key` until `untilMs` for whichever instance asks first: true for that one, false for
 * every other while the claim lasts (a Slack signature seen by any instance is a replay on all).
 */
export async function claimOnce(pool: pg.Pool, key: string, untilMs: number): Promise<boolean> {
  const { rowCount } = await pool.query({
    name: 'secretsfly_claim_once',
    text: `insert into rate_limits (key, hits, reset_at) values ($1, 1, $2)
           on conflict (key) do update set hits = 1, reset_at = excluded.reset_at where rate_limits.reset_at <= ${DB_NOW}`,
    values: [key.slice(0, 400), untilMs],
  });
  return rowCount === 1;
}

/** Ended windows, from every limiter: any instance may run it, running it twice removes nothing more. */
export async function dropEndedWindows(pool: pg.Pool): Promise<number> {
  const { rowCount } = await pool.query(`delete from rate_limits where reset_at <= ${DB_NOW}`);
  return rowCount ?? 0;
}

/**
 * The store for one named limiter: shared through PostgreSQL, or undefined for express-rate-limit's
 * in-memory default on SQLite (one process).
 */
export type LimitStores = (name: string) => Store | undefined;

export function limitStores(pool: pg.Pool | undefined): LimitStores {
  return (name) => (pool ? new DatabaseRateStore(pool, name) : undefined);
}
