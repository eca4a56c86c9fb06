import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { KdfParams } from '../../src/crypto/kdf.js';
import { type AppContext, type ContextOverrides, createContext } from '../../src/main.js';
import { databaseUrlFor, onPostgres, queryPostgres } from './postgres.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/secretsfly.js');

/**
 * Cheap scrypt for tests; the parameters are stored per root like real ones. runCli gives the CLI the
 * same (cli/context.ts); test/cli/cli.test.ts proves the real cost is used without it.
 */
export const FAST_KDF: KdfParams = { alg: 'scrypt', v: 1, N: 2 ** 12, r: 8, p: 1 };

/** What runCli sets unless a test overrides it: the CLI's test-only cheap KDF (both are required). */
export const CLI_FAST_KDF_ENV = { NODE_ENV: 'test', SECRETSFLY_TEST_KDF: 'fast' } as const;

export const actor = { name: 'test' };

export function tempDir(prefix = 'secretsfly-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * What puts a process on this pass's engine for `dataDir`: on PostgreSQL, DATABASE_URL naming the
 * test database that stands for that folder (test/helpers/postgres.ts); on SQLite, nothing (the
 * database is the file in DATA_DIR). Every config, server and CLI run of the tests takes it.
 */
export async function engineEnv(dataDir: string): Promise<{ DATABASE_URL?: string }> {
  return onPostgres ? { DATABASE_URL: await databaseUrlFor(dataDir) } : {};
}

export async function createTestContext(
  options: { env?: Record<string, string>; overrides?: ContextOverrides } = {},
): Promise<AppContext & { dataDir: string; dispose(): Promise<void> }> {
  const dataDir = tempDir();
  const config = loadConfig({
    DATA_DIR: dataDir,
    AVAILABLE_ENVIRONMENTS: 'prod,staging',
    ...(await engineEnv(dataDir)),
    ...options.env,
  });
  const ctx = await createContext(config, { kdfParams: FAST_KDF, ...options.overrides });
  return Object.assign(ctx, {
    dataDir,
    async dispose() {
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export const bytes = (text: string) => new TextEncoder().encode(text);

/**
 * Tables left out of a PostgreSQL snapshot: bookkeeping that SQLite keeps outside the database
 * (sessions.db, in-memory counters, data_version), which a request moves without changing any data.
 */
const POSTGRES_BOOKKEEPING = ['change_stamp', 'rate_limits', 'admin_sessions', 'instances', 'server_settings'];

/** Every row of every table, for "this changed nothing" assertions; rows in a fixed order on PostgreSQL. */
export async function snapshotDatabase(
  dataDir: string,
  /** The engine of this pass unless named (test/postgres reads its SQLite source in either pass). */
  options: { engine?: 'sqlite' | 'postgres' } = {},
): Promise<Record<string, unknown[]>> {
  if ((options.engine ?? (onPostgres ? 'postgres' : 'sqlite')) === 'postgres') {
    const url = await databaseUrlFor(dataDir);
    const tables = await queryPostgres(
      url,
      `select table_name as name, (select count(*) from information_schema.columns c
         where c.table_schema = t.table_schema and c.table_name = t.table_name)::int as columns
       from information_schema.tables t
       where table_schema = 'public' and table_type = 'BASE TABLE'
         and table_name not like 'kysely_migration%' and not (table_name = any($1))
       order by table_name`,
      [POSTGRES_BOOKKEEPING],
    );
    const snapshot: Record<string, unknown[]> = {};
    for (const { name, columns } of tables as { name: string; columns: number }[]) {
      const order = Array.from({ length: columns }, (_, i) => i + 1).join(', ');
      snapshot[name] = await queryPostgres(url, `select * from "${name}" order by ${order}`);
    }
    return snapshot;
  }
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'), { readonly: true });
  try {
    const tables = sqlite.prepare("select name from sqlite_master where type = 'table' order by name").all() as {
      name: string;
    }[];
    return Object.fromEntries(tables.map(({ name }) => [name, sqlite.prepare(`select * from "${name}"`).all()]));
  } finally {
    sqlite.close();
  }
}

/**
 * Runs raw SQL against DATA_DIR's database (PostgreSQL's on that pass), as an attacker or a fault
 * would. Write it in SQL both engines take, or branch on `onPostgres`.
 */
export async function rawSql(
  dataDir: string,
  statements: string,
  options: { engine?: 'sqlite' | 'postgres' } = {},
): Promise<void> {
  if ((options.engine ?? (onPostgres ? 'postgres' : 'sqlite')) === 'postgres') {
    await queryPostgres(await databaseUrlFor(dataDir), statements);
    return;
  }
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'));
  try {
    sqlite.exec(statements);
  } finally {
    sqlite.close();
  }
}

/** `?` placeholders (SQLite's) as PostgreSQL's `$1, $2 …`, so one query text serves both engines. */
const numbered = (query: string) => {
  let n = 0;
  return query.replace(/\?/g, () => `$${++n}`);
};

/**
 * The rows of one query on DATA_DIR's database (PostgreSQL's on that pass), read as an outsider
 * would. Values bind to `?` placeholders on both engines.
 */
export async function selectRows<T = any>(dataDir: string, query: string, values: unknown[] = []): Promise<T[]> {
  if (onPostgres) return queryPostgres(await databaseUrlFor(dataDir), numbered(query), values);
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'), { readonly: true });
  try {
    return sqlite.prepare(query).all(...values) as T[];
  } finally {
    sqlite.close();
  }
}

/** One statement with `?` placeholders run on DATA_DIR's database, as an attacker or a fault would. */
export async function writeSql(dataDir: string, statement: string, values: unknown[] = []): Promise<void> {
  if (onPostgres) {
    await queryPostgres(await databaseUrlFor(dataDir), numbered(statement), values);
    return;
  }
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'));
  try {
    sqlite.prepare(statement).run(...values);
  } finally {
    sqlite.close();
  }
}

/** `bytes` as a literal of this pass's engine, for rawSql: X'…' on SQLite, '\x…'::bytea on PostgreSQL. */
export function blobSql(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return onPostgres ? `'\\x${hex}'::bytea` : `X'${hex}'`;
}

/**
 * A fault injected behind the product's back: from the `from`-th update of a stored ciphertext on,
 * every one fails (the n-th statement of a re-encryption dies, as on a crash). removeFault undoes it.
 */
export async function failCiphertextUpdates(dataDir: string, from: number): Promise<void> {
  await rawSql(
    dataDir,
    onPostgres
      ? `create table fault (n integer); insert into fault values (0);
         create function fail_midway() returns trigger language plpgsql as $$
         begin
           update fault set n = n + 1;
           if (select n from fault) >= ${from} then raise exception 'injected fault'; end if;
           return new;
         end $$;
         create trigger fail_midway before update of ciphertext on secret_versions
           for each row execute function fail_midway();`
      : `create table fault (n integer); insert into fault values (0);
         create trigger fail_midway before update of ciphertext on secret_versions begin
           update fault set n = n + 1;
           select raise(abort, 'injected fault') where (select n from fault) >= ${from};
         end;`,
  );
}

export async function removeFault(dataDir: string): Promise<void> {
  await rawSql(
    dataDir,
    onPostgres
      ? 'drop trigger fail_midway on secret_versions; drop function fail_midway(); drop table fault;'
      : 'drop trigger fail_midway; drop table fault;',
  );
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real CLI in a child process (the compiled build, as users run it), with the cheap test KDF for
 * new root keys: pass `SECRETSFLY_TEST_KDF: undefined` in `env` for the real cost.
 */
export async function runCli(
  args: readonly string[],
  options: {
    dataDir: string;
    env?: Record<string, string | undefined>;
    input?: string | Buffer;
    /** Where the CLI runs (default: this process's directory). */
    cwd?: string;
  } = { dataDir: '' },
): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // The user's config (logins, sealed copies) of this test process, never the real one.
    XDG_CONFIG_HOME: cliConfigHome(),
    ...(options.dataDir !== '' && { DATA_DIR: options.dataDir, ...(await engineEnv(options.dataDir)) }),
    ...CLI_FAST_KDF_ENV,
    ...options.env,
  };
  return runProcess(process.execPath, [BIN, ...args], { env, input: options.input, cwd: options.cwd });
}

let configHome: string | undefined;
const cliConfigHome = () => (configHome ??= tempDir('secretsfly-config-'));

/** Runs any program to its end with exactly `env`, feeding it `input`; its output as text. */
export function runProcess(
  file: string,
  args: readonly string[],
  options: { env: Record<string, string | undefined>; input?: string | Buffer | undefined; cwd?: string | undefined },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      env: options.env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Every file below `dir` (database, WAL, SHM, session secret …), as raw bytes. */
export function readAllFiles(dir: string): { file: string; content: Buffer }[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { file, content: fs.readFileSync(file) };
    });
}

/** Where readAllStored puts the rows of a PostgreSQL pass's database, as if it were a file. */
export const DATABASE_DUMP = 'database rows';

/**
 * Everything this pass's engine stored for DATA_DIR, as raw bytes: every file below it (on SQLite,
 * the database file, WAL and SHM among them) and, on PostgreSQL, every value of every row of its
 * database, as one more "file" named DATABASE_DUMP.
 */
export async function readAllStored(dir: string): Promise<{ file: string; content: Buffer }[]> {
  const files = readAllFiles(dir);
  if (!onPostgres) return files;
  const url = await databaseUrlFor(dir);
  const tables = await queryPostgres(
    url,
    "select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
  );
  const values: Buffer[] = [];
  for (const { name } of tables as { name: string }[]) {
    for (const row of await queryPostgres(url, `select * from "${name}"`)) {
      for (const value of Object.values(row)) {
        if (value !== null) values.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)), Buffer.from('\n'));
      }
    }
  }
  return [...files, { file: DATABASE_DUMP, content: Buffer.concat(values) }];
}

/** A root_keys row as SQLite returns it, for tests that attack the stored key material. */
export interface StoredRootKey {
  project_id: string;
  kdf: string;
  salt: Buffer;
  wrapped_dek: Buffer;
  key_version: number;
}

/** A CLI run that must have succeeded, with no unexpected error: returned for its output. */
export function succeeded(result: CliResult): CliResult {
  expect(result.stderr.includes('unexpected'), result.stderr).toBe(false);
  expect(result.code, result.stderr).toBe(0);
  return result;
}
