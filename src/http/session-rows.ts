import fs from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';

/**
 * The five statements of the session store (session-store.ts), on either engine. A row whose data
 * is '' is a tombstone: the session ended (sign-out, expiry) and may not come back. The absolute
 * deadline counts from sign-in, stamped into the row when it is first written; a request that
 * loaded the session before it ended and saves it afterwards finds the tombstone and writes nothing,
 * so it cannot give the session a new lifetime.
 */
export interface SessionRows {
  get(key: string): Promise<{ data: string; expires_at: number } | undefined>;
  set(row: { key: string; data: string; signedInAt: number; now: number; ttl: number; idle: number }): Promise<void>;
  touch(row: { key: string; now: number; ttl: number; idle: number }): Promise<void>;
  /** Kept as a tombstone until the session's absolute deadline, after which nothing can revive it. */
  end(row: { key: string; ttl: number }): Promise<void>;
  /** Ends the sessions past their deadline; their keys. */
  expired(at: { now: number; ttl: number }): Promise<string[]>;
  dropDead(now: number): Promise<void>;
  count(): Promise<number>;
  /** Which of `keys` are live sessions (not ended, not expired at `now`). */
  live(keys: readonly string[], now: number): Promise<Set<string>>;
  close(): void;
}

export function sqliteSessionRows(file: string): SessionRows {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  // Deleted rows are overwritten, not left in free pages for a copy of the file to recover.
  db.pragma('secure_delete = ON');
  // connect-sqlite3's table held raw session ids: usable cookies for anyone with the file.
  db.exec('DROP TABLE IF EXISTS sessions');
  db.exec(`CREATE TABLE IF NOT EXISTS admin_sessions (
    key TEXT PRIMARY KEY, data TEXT NOT NULL, signed_in_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
  db.exec('CREATE INDEX IF NOT EXISTS admin_sessions_expires ON admin_sessions (expires_at)');
  const get = db.prepare<[string], { data: string; expires_at: number }>(
    "SELECT data, expires_at FROM admin_sessions WHERE key = ? AND data <> ''",
  );
  const set = db.prepare<{ key: string; data: string; signedInAt: number; now: number; ttl: number; idle: number }>(
    `INSERT INTO admin_sessions (key, data, signed_in_at, expires_at)
     VALUES (:key, :data, :signedInAt, MIN(:signedInAt + :ttl, :now + :idle))
     ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = MIN(signed_in_at + :ttl, :now + :idle)
     WHERE expires_at > :now AND data <> ''`,
  );
  const touch = db.prepare<{ key: string; now: number; ttl: number; idle: number }>(
    "UPDATE admin_sessions SET expires_at = MIN(signed_in_at + :ttl, :now + :idle) WHERE key = :key AND expires_at > :now AND data <> ''",
  );
  const end = db.prepare<{ key: string; ttl: number }>(
    "UPDATE admin_sessions SET data = '', expires_at = signed_in_at + :ttl WHERE key = :key AND data <> ''",
  );
  const expired = db.prepare<{ now: number; ttl: number }>(
    "UPDATE admin_sessions SET data = '', expires_at = signed_in_at + :ttl WHERE data <> '' AND expires_at <= :now RETURNING key",
  );
  const dropDead = db.prepare<[number]>("DELETE FROM admin_sessions WHERE data = '' AND expires_at <= ?");
  const count = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM admin_sessions WHERE data <> ''");
  // better-sqlite3 answers synchronously; the store awaits either engine alike.
  return {
    get: async (key) => get.get(key),
    set: async (row) => void set.run(row),
    touch: async (row) => void touch.run(row),
    end: async (row) => void end.run(row),
    expired: async (at) => (expired.all(at) as { key: string }[]).map((row) => row.key),
    dropDead: async (now) => void dropDead.run(now),
    count: async () => count.get()!.n,
    live: async (keys, now) =>
      new Set(
        keys.filter((key) => {
          const row = get.get(key);
          return row !== undefined && row.expires_at > now;
        }),
      ),
    close: () => db.close(),
  };
}

/** The same statements on PostgreSQL's admin_sessions (migrations/2026-11-26T0000-instances.ts). */
export function postgresSessionRows(pool: pg.Pool): SessionRows {
  const run = async (name: string, text: string, values: unknown[]) =>
    (await pool.query({ name: `secretsfly_session_${name}`, text, values })).rows;
  return {
    async get(key) {
      const [row] = await run('get', "select data, expires_at from admin_sessions where key = $1 and data <> ''", [
        key,
      ]);
      return row && { data: row.data as string, expires_at: Number(row.expires_at) };
    },
    async set({ key, data, signedInAt, now, ttl, idle }) {
      await run(
        'set',
        `insert into admin_sessions as s (key, data, signed_in_at, expires_at)
         values ($1, $2, $3::bigint, least($3::bigint + $4::bigint, $5::bigint + $6::bigint))
         on conflict (key) do update set data = excluded.data, expires_at = least(s.signed_in_at + $4::bigint, $5::bigint + $6::bigint)
         where s.expires_at > $5::bigint and s.data <> ''`,
        [key, data, signedInAt, ttl, now, idle],
      );
    },
    async touch({ key, now, ttl, idle }) {
      await run(
        'touch',
        "update admin_sessions set expires_at = least(signed_in_at + $2::bigint, $3::bigint + $4::bigint) where key = $1 and expires_at > $3::bigint and data <> ''",
        [key, ttl, now, idle],
      );
    },
    async end({ key, ttl }) {
      await run(
        'end',
        "update admin_sessions set data = '', expires_at = signed_in_at + $2::bigint where key = $1 and data <> ''",
        [key, ttl],
      );
    },
    async expired({ now, ttl }) {
      const rows = await run(
        'expired',
        "update admin_sessions set data = '', expires_at = signed_in_at + $2::bigint where data <> '' and expires_at <= $1::bigint returning key",
        [now, ttl],
      );
      return rows.map((row) => row.key as string);
    },
    async dropDead(now) {
      await run('drop', "delete from admin_sessions where data = '' and expires_at <= $1::bigint", [now]);
    },
    async count() {
      const [row] = await run('count', "select count(*) as n from admin_sessions where data <> ''", []);
      return Number(row.n);
    },
    async live(keys, now) {
      const rows = await run(
        'live',
        "select key from admin_sessions where key = any($1::text[]) and data <> '' and expires_at > $2::bigint",
        [keys, now],
      );
      return new Set(rows.map((row) => row.key as string));
    },
    // The pool belongs to the database handle, which closes it.
    close: () => undefined,
  };
}
