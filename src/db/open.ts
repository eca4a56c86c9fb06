import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import { Kysely, PostgresAdapter, SqliteDialect, sql } from 'kysely';
import { ConfigError } from '../errors.js';
import { type Changes, trackChanges } from './changes.js';
import type { Database } from './database.js';
import { afterWrite, describePostgres, openPostgres, takeWriteLock } from './postgres.js';

export const DATABASE_FILE = 'secretsfly.db';

/** How long a write waits for another process's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

interface HandleBase {
  readonly db: Kysely<Database>;
  readonly changes: Changes;
  /** Where the data lives, for messages: a file, or a PostgreSQL URL without its password. */
  readonly location: string;
  close(): Promise<void>;
}

export interface SqliteHandle extends HandleBase {
  readonly engine: 'sqlite';
  readonly sqlite: SqliteDatabase.Database;
  readonly file: string;
}

export interface PostgresHandle extends HandleBase {
  readonly engine: 'postgres';
  readonly pool: pg.Pool;
}

export type DatabaseHandle = SqliteHandle | PostgresHandle;

/** The database the configuration names: PostgreSQL with DATABASE_URL, else SQLite in DATA_DIR. */
export function openConfiguredDatabase(
  config: { readonly dataDir: string; readonly databaseUrl: string | undefined },
  options: OpenOptions = {},
): DatabaseHandle {
  if (config.databaseUrl === undefined) return openDatabase(config.dataDir, options);
  const { db, pool, changes } = openPostgres(config.databaseUrl);
  return {
    engine: 'postgres',
    db,
    pool,
    changes,
    location: describePostgres(config.databaseUrl),
    close: () => db.destroy(),
  };
}

/**
 * kysely's SQLite driver prepares every statement on every call; preparing cost more than running
 * (the API pull profile). Statements are cached by SQL text and reused, which is safe because
 * better-sqlite3 runs each one synchronously to completion. kysely prepares right before it runs,
 * so this is also where a write on this connection is announced to `changes`.
 */
function withStatementCache(sqlite: SqliteDatabase.Database, changes: Changes, max = 1000) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, statement);
      }
      if (!statement.reader) changes.writing();
      return statement;
    },
  };
}

export function databasePath(dataDir: string): string {
  return path.join(dataDir, DATABASE_FILE);
}

export interface OpenOptions {
  /** false: a missing database is an error naming where it was looked for (every CLI command but a few). */
  readonly create?: boolean;
}

export function openDatabase(dataDir: string, options: OpenOptions = {}): SqliteHandle {
  const file = databasePath(dataDir);
  if (options.create === false && !fs.existsSync(file)) {
    throw new ConfigError([
      `no secretsfly database at ${file} (DATA_DIR is ${dataDir}; unset, it is ./data of the current directory): set DATA_DIR to the directory that holds secretsfly.db, or start a new one with \`secretsfly migrate\``,
    ]);
  }
  let sqlite: SqliteDatabase.Database;
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Create the file ourselves so it is private from the start; SQLite gives -wal and -shm the same mode.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
  } catch (error) {
    throw unusableDataDir(error, dataDir);
  }
  // FULL: a committed secret survives a power cut, not only a process crash.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Deleted and overwritten content is zeroed, not left in free pages for a copy of the file to keep.
  sqlite.pragma('secure_delete = ON');

  const changes = trackChanges(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, changes) }) });
  return {
    engine: 'sqlite',
    db,
    sqlite,
    file,
    location: file,
    changes,
    close: () => db.destroy(),
  };
}

/**
 * Moves every committed page from the WAL into the database file and truncates the WAL to nothing,
 * so what a rotation replaced (an old wrapped key, old ciphertexts) is in no file under DATA_DIR.
 * With secure_delete, the pages it freed in the database file are zeroed too. Returns false when a
 * reader (another process) kept it from finishing: the caller says so.
 */
export function truncateWal(sqlite: SqliteDatabase.Database): boolean {
  const [result] = sqlite.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  return result !== undefined && result.busy === 0 && result.log === 0;
}

/**
 * A DATA_DIR this user cannot use (read-only mount, wrong owner, a file in the way) is a setting to
 * fix: say which directory and why, instead of an "unexpected error" without the path.
 */
function unusableDataDir(error: unknown, dataDir: string): unknown {
  const code = (error as { code?: string }).code ?? '';
  const why = UNUSABLE[code];
  return why ? new ConfigError([`DATA_DIR ${dataDir} ${why} (${code}): fix it or set DATA_DIR`]) : error;
}

const NOT_WRITABLE = 'is not writable by this user';
const NOT_A_DIRECTORY = 'is not a directory, or a part of its path is a file';
const UNUSABLE: Record<string, string> = {
  EACCES: NOT_WRITABLE,
  EPERM: NOT_WRITABLE,
  EROFS: 'is on a read-only file system',
  SQLITE_READONLY: NOT_WRITABLE,
  SQLITE_READONLY_DIRECTORY: NOT_WRITABLE,
  SQLITE_CANTOPEN: 'cannot be opened',
  ENOTDIR: NOT_A_DIRECTORY,
  EEXIST: NOT_A_DIRECTORY,
  EISDIR: 'holds a directory where secretsfly.db should be',
};

/**
 * Runs `fn` in one write transaction, one writer at a time on both engines (on PostgreSQL an
 * advisory lock: postgres.ts). SQLite's deferred BEGIN can fail with SQLITE_BUSY when two
 * processes (server and CLI) upgrade a read lock at once; BEGIN IMMEDIATE takes the write lock up
 * front and waits on the busy timeout instead. Inside `fn`, use only the `trx` handed in: a stray
 * call on the outer `db` would wait forever for the single connection.
 */
export async function writeTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
  options: {
    /**
     * A shorter wait for the write lock than the connection's (better-sqlite3 waits synchronously, so
     * a long wait stalls every request): for work that can be retried later, such as queued audit events.
     */
    lockWaitMs?: number;
  } = {},
): Promise<T> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    try {
      return await db.transaction().execute(async (trx) => {
        await takeWriteLock(trx, options.lockWaitMs);
        return fn(trx);
      });
    } finally {
      afterWrite.get(db)?.();
    }
  }
  return db.connection().execute(async (conn) => {
    if (options.lockWaitMs === undefined) await sql`begin immediate`.execute(conn);
    else {
      await sql.raw(`pragma busy_timeout = ${Math.trunc(options.lockWaitMs)}`).execute(conn);
      try {
        await sql`begin immediate`.execute(conn);
      } finally {
        await sql.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`).execute(conn);
      }
    }
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (error) {
      await sql`rollback`.execute(conn);
      throw error;
    }
  });
}

/** The SQLite connection, for code that works on SQLite alone (benchmark seeding, tests of the file). */
export function sqliteOf(handle: DatabaseHandle): SqliteDatabase.Database {
  if (handle.engine !== 'sqlite') throw new Error(`this works on SQLite only, not on ${handle.location}`);
  return handle.sqlite;
}
