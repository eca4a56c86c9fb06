import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { ConfigError } from '../errors.js';
import type { Changes } from './changes.js';
import type { Database } from './database.js';

/**
 * PostgreSQL (DATABASE_URL): the same tables and queries as SQLite, for several instances. What
 * SQLite gave for free is rebuilt here, each rule in docs/architecture.md ("Several instances"):
 * one writer at a time (an advisory lock in every write transaction) and a change stamp that any
 * commit moves (triggers on the tables that caches read, migrations/2026-11-26T0000-instances.ts).
 */

/** Connections per instance: the API's reads run in parallel, writes queue on the write lock anyway. */
const POOL_SIZE = 10;

/** The advisory lock every write transaction takes: writes are serialized as SQLite's are. */
export const WRITE_LOCK = 0x5ec7_f1;

// COUNT(*) is a bigint, which pg hands over as a string: every count we make fits in a number.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Where a database lives, for messages and logs: never its password. */
export function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres://${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export function openPostgres(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, types });
  // An idle connection the server dropped (restart, failover) is replaced by the pool; without a
  // listener its error would end the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const changes = trackPostgresChanges(async () => {
    const { rows } = await pool.query<{ stamp: number }>({ name: 'secretsfly_stamp', text: STAMP_QUERY });
    return String(rows[0]?.stamp ?? 0);
  });
  afterWrite.set(db, changes.writing);
  return { db, pool, changes };
}

/** One round trip, prepared once per connection by name. */
const STAMP_QUERY = 'select stamp from change_stamp where id = 1';

/** Runs after a write transaction on `db` ended, committed or not (writeTransaction in open.ts). */
export const afterWrite = new WeakMap<Kysely<Database>, () => void>();

/** The connection's first error as a setting to fix, when it is one (refused, unknown host, wrong password). */
export function unreachablePostgres(error: unknown, url: string): unknown {
  const code = (error as { code?: string }).code ?? '';
  const why: Record<string, string> = {
    ECONNREFUSED: 'refused the connection',
    ENOTFOUND: 'names a host that does not exist',
    EAI_AGAIN: 'names a host that could not be looked up',
    ETIMEDOUT: 'did not answer',
    '28P01': 'refused the user name or password',
    '28000': 'refused this user',
    '3D000': 'names a database that does not exist',
  };
  return why[code]
    ? new ConfigError([`DATABASE_URL (${describePostgres(url)}) ${why[code]} (${code}): fix it or unset DATABASE_URL`])
    : error;
}

/**
 * For commands that must not create a database (all but a few, as with SQLite's missing file): an
 * empty PostgreSQL database is refused, naming where it looked and what starts one.
 */
export async function assertSecretsflyDatabase(database: { db: Kysely<Database>; location: string }): Promise<void> {
  const found = await sql<{ n: number }>`select count(*) as n from information_schema.tables
    where table_schema = current_schema() and table_name = 'kysely_migration'`.execute(database.db);
  if (Number(found.rows[0]?.n ?? 0) === 0) {
    throw new ConfigError([
      `no secretsfly database at ${database.location} (DATABASE_URL): start one with \`secretsfly migrate\`, or copy one in with \`secretsfly copy --to\``,
    ]);
  }
}

/** Takes the write lock in `trx`, waiting at most `lockWaitMs` for it when given. */
export async function takeWriteLock(trx: Kysely<Database>, lockWaitMs?: number): Promise<void> {
  if (lockWaitMs !== undefined) {
    await sql`select set_config('lock_timeout', ${`${Math.trunc(lockWaitMs)}ms`}, true)`.execute(trx);
  }
  await sql`select pg_advisory_xact_lock(${WRITE_LOCK})`.execute(trx);
}

/**
 * PostgreSQL's twin of SQLite's `data_version`: a counter that the tables' triggers move in the
 * same transaction as any change a cache could have read (the migration lists them). There is no
 * push that arrives before the next request, so every request is answered with a stamp read that
 * started after it arrived: a write made through another instance before this request arrived is
 * always seen. To keep that to about one round trip per event-loop turn rather than per request,
 * a read starts at the end of the turn (setImmediate) and answers every caller of that turn; a
 * finished read is reused only while no request has arrived and no write has been made here since
 * it started. Outside a server (the CLI) nothing counts arrivals, and every call waits for a read
 * that starts after it.
 */
export function trackPostgresChanges(read: () => Promise<string>): Changes & { arrived(): void } {
  let epoch = 0;
  let countingArrivals = false;
  let last: { epoch: number; value: Promise<string> } | undefined;
  let next: Promise<string> | undefined;
  const start = (): Promise<string> => {
    next = undefined;
    // Tagged with the epoch it starts in: it is fresh for every arrival and write before this moment.
    const current = { epoch, value: read() };
    current.value.catch(() => {
      if (last === current) last = undefined;
    });
    last = current;
    return current.value;
  };
  return {
    stamp() {
      if (countingArrivals && last && last.epoch === epoch) return last.value;
      next ??= new Promise<string>((resolve, reject) => setImmediate(() => start().then(resolve, reject)));
      return next;
    },
    inTransaction: () => false,
    writing() {
      epoch += 1;
    },
    arrived() {
      countingArrivals = true;
      epoch += 1;
    },
  };
}
