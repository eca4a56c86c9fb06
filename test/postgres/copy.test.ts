import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  databaseUrlFor,
  queryPostgres,
  type RunningPostgres,
  SERVER_URL_VARIABLE,
  startPostgres,
} from '../helpers/postgres.js';
import { type CliResult, rawSql, runCli, snapshotDatabase, succeeded, tempDir } from '../helpers/test-context.js';
import { spawnServe } from '../helpers/test-server.js';

/**
 * `secretsfly copy --to <postgres-url>` and backup/restore with DATABASE_URL (CONTRACT §6), with
 * real processes on a real PostgreSQL: what SQLite held reads back from PostgreSQL with the same
 * master key and tokens, byte for byte, and a copy that cannot finish leaves nothing behind.
 */

const TABLES = [
  'environments',
  'projects',
  'root_keys',
  'secrets',
  'secret_versions',
  'service_tokens',
  'users',
  'audit_events',
  'shares',
];
const ORDER: Record<string, string> = { secret_versions: 'secret_id, version', root_keys: 'project_id' };
const ENV = { AVAILABLE_ENVIRONMENTS: 'prod,staging' };

let postgres: RunningPostgres | undefined;
let serverUrl: string;
let source: string;
let masterKey: string;
let keyedToken: string;
let classicToken: string;
let shareLink: string;

/** A fresh, empty PostgreSQL database. */
const newDatabase = () => databaseUrlFor(tempDir(), serverUrl);

/** The CLI on SQLite in `dataDir` (in either pass), unless `env` names a DATABASE_URL. */
const cli = (args: string[], dataDir: string, env: Record<string, string> = {}) =>
  runCli(args, { dataDir, env: { ...ENV, DATABASE_URL: undefined, ...env } });
/** The CLI on the PostgreSQL database at `url` (DATA_DIR is an empty folder it does not use). */
const onPostgres = (args: string[], url: string, env: Record<string, string> = {}) =>
  cli(args, tempDir(), { DATABASE_URL: url, ...env });

function oneLine(result: CliResult): string {
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** Every row of every copied table, in primary-key order. */
async function rowsOf(url: string): Promise<Record<string, unknown[]>> {
  const entries = await Promise.all(
    TABLES.map(async (table) => [
      table,
      await queryPostgres(url, `select * from ${table} order by ${ORDER[table] ?? 1}`),
    ]),
  );
  return Object.fromEntries(entries);
}

const sortRows = (rows: unknown[]) =>
  [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)).map((row) => ({ ...(row as object) }));

/** The values, history and tokens a database serves, read through the CLI. */
async function served(run: (args: string[]) => Promise<CliResult>) {
  const get = async (project: string, env: string, name: string) =>
    succeeded(await run(['secret', 'get', project, env, name])).stdout;
  return {
    a: await get('acme', 'prod', 'A'),
    b: await get('web', 'prod', 'B'),
    c: await get('acme', 'staging', 'C'),
    history: JSON.parse(succeeded(await run(['secret', 'history', 'acme', 'prod', 'GONE', '--json'])).stdout),
    tokens: JSON.parse(succeeded(await run(['token', 'list', '--json'])).stdout),
    audit: /^audit log intact/.test(succeeded(await run(['audit', '--verify'])).stdout),
  };
}

beforeAll(async () => {
  if (process.env[SERVER_URL_VARIABLE]) serverUrl = process.env[SERVER_URL_VARIABLE];
  else {
    postgres = await startPostgres();
    serverUrl = postgres.url;
  }
  source = tempDir();
  masterKey = succeeded(await cli(['project', 'create', 'acme'], source)).stdout.trim();
  const key = { SECRETSFLY_MASTER_KEY: masterKey };
  succeeded(await cli(['project', 'create', 'web', '--parent', 'acme'], source));
  for (const args of [
    ['acme', 'prod', 'A', 'first'],
    ['acme', 'prod', 'A', 'second'],
    ['acme', 'prod', 'GONE', 'soon deleted'],
    ['web', 'prod', 'B', 'bé ✓ child'],
    ['acme', 'staging', 'C', 'line one\nline two'],
  ]) {
    succeeded(await cli(['secret', 'set', ...args], source, key));
  }
  succeeded(await cli(['secret', 'delete', 'acme', 'prod', 'GONE'], source, key));
  // More rows than one page of the copy (200), so that paging is exercised.
  const many = path.join(tempDir(), 'many.env');
  fs.writeFileSync(many, Array.from({ length: 450 }, (_, i) => `MANY_${i}=value ${i}\n`).join(''));
  succeeded(await cli(['import', 'acme', 'staging', many], source, key));
  keyedToken = succeeded(await cli(['token', 'create', 'web', 'prod'], source, key)).stdout.trim();
  classicToken = succeeded(
    await cli(['token', 'create', 'acme', 'prod', '--classic', '--write'], source),
  ).stdout.trim();
  succeeded(await cli(['user', 'create', 'admin'], source, { SECRETSFLY_PASSWORD: 'a long admin password' }));
  const server = await spawnServe(source, { ...ENV, DATABASE_URL: undefined });
  try {
    shareLink = succeeded(
      await cli(['share', 'create', 'shared once'], source, {
        SECRETSFLY_URL: server.url,
        SECRETSFLY_TOKEN: classicToken,
      }),
    ).stdout.trim();
  } finally {
    server.child.kill('SIGTERM');
  }
  // A title an agent synced (its value stays on its host): a restored server must still refuse writes of it.
  await rawSql(
    source,
    `insert into host_held_secrets (id, agent, project_id, environment_id, name, type, synced_at)
     select '0b6f2a8e-0000-4000-8000-000000000001', 'web-1', p.id, e.id, 'HOST_ONLY', 'generic', '2026-11-24T00:00:00.000Z'
     from projects p, environments e where p.name = 'web' and e.name = 'prod'`,
    { engine: 'sqlite' },
  );
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
});

describe('secretsfly copy --to', () => {
  it('should copy every row byte for byte, and serve the same values to the same key and tokens', async () => {
    const url = await newDatabase();
    const copied = succeeded(await cli(['copy', '--to', url, '--json'], source));
    const report = JSON.parse(copied.stdout);
    expect(copied.stdout).not.toContain('test-only');
    expect(report.to).toBe(`postgres://${new URL(url).host}${new URL(url).pathname}`);
    expect(report.audit).toMatchObject({ ok: true });
    expect(report.tables).toMatchObject({
      projects: 2,
      secrets: 454,
      secret_versions: 456,
      service_tokens: 2,
      users: 1,
    });
    expect(report.tables.shares).toBe(1);
    expect(report.tables.host_held_secrets).toBe(1);

    // The same rows, the same bytes (Buffers compare by content).
    const before = await snapshotDatabase(source, { engine: 'sqlite' });
    const after = await rowsOf(url);
    for (const table of TABLES) expect(sortRows(after[table]!), table).toEqual(sortRows(before[table]!));

    const key = { SECRETSFLY_MASTER_KEY: masterKey };
    const fromSqlite = await served((args) => cli(args, source, key));
    const fromPostgres = await served((args) => onPostgres(args, url, key));
    expect(fromPostgres).toEqual(fromSqlite);
    expect([fromPostgres.a, fromPostgres.b, fromPostgres.c]).toEqual([
      'second\n',
      'bé ✓ child\n',
      'line one\nline two\n',
    ]);
    expect(fromPostgres.audit).toBe(true);

    // A server on PostgreSQL answers both tokens, and opens the share made on SQLite.
    const server = await spawnServe(tempDir(), { ...ENV, DATABASE_URL: url });
    try {
      const pull = async (token: string, extra: Record<string, string> = {}) =>
        JSON.parse(
          succeeded(
            await runCli(['pull', '--format', 'json'], {
              dataDir: '',
              env: { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, ...extra },
            }),
          ).stdout,
        );
      expect(await pull(keyedToken)).toEqual({ A: 'second', B: 'bé ✓ child' });
      expect(await pull(classicToken, key)).toEqual({ A: 'second' });
      const opened = await runCli(['share', 'open', shareLink.replace(/^http:\/\/[^/]+/, server.url)], { dataDir: '' });
      expect(succeeded(opened).stdout).toBe('shared once\n');
    } finally {
      server.child.kill('SIGTERM');
    }
  });

  it('should refuse a database that is not empty with one line, and change nothing in it', async () => {
    const url = await newDatabase();
    succeeded(await onPostgres(['migrate'], url));
    const before = await rowsOf(url);
    const refused = await cli(['copy', '--to', url], source);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toContain('table environments has rows');
    expect(await rowsOf(url)).toEqual(before);
  });

  it('should leave the target empty when a row is refused half-way', async () => {
    // SQLite does not enforce varchar lengths, PostgreSQL does: the last table copied holds a row too long.
    const faulty = tempDir();
    fs.cpSync(source, faulty, { recursive: true });
    await rawSql(
      faulty,
      `update audit_events set user_agent = '${'x'.repeat(600)}' where seq = (select max(seq) from audit_events)`,
      { engine: 'sqlite' },
    );
    const url = await newDatabase();
    const failed = await cli(['copy', '--to', url], faulty);
    expect(failed.code).toBe(1);
    const line = oneLine(failed);
    expect(line).toContain('audit_events');
    expect(line).toContain('nothing was copied');
    expect(line).not.toContain('xxxx');
    for (const [table, rows] of Object.entries(await rowsOf(url))) expect(rows, table).toEqual([]);
  });

  it('should refuse a URL that is not PostgreSQL with one line', async () => {
    const refused = await cli(['copy', '--to', 'mysql://root:hunter2@db/secrets'], source);
    expect(refused.code).toBe(2);
    expect(oneLine(refused)).toContain('PostgreSQL URL');
    expect(refused.stderr).not.toContain('hunter2');
  });
});

describe('backup and restore with DATABASE_URL', () => {
  it('should back up to a private SQLite file that restores into another PostgreSQL database, or into a DATA_DIR', async () => {
    const original = await newDatabase();
    succeeded(await cli(['copy', '--to', original], source));
    const file = path.join(tempDir(), 'pg.backup');
    succeeded(await onPostgres(['backup', file], original));
    expect(fs.statSync(file).mode & 0o077).toBe(0);
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    expect(oneLine(await onPostgres(['backup', file], original))).toContain('already exists');

    const backedUp = await rowsOf(original);

    const restored = await newDatabase();
    succeeded(await onPostgres(['restore', file], restored));
    expect(await rowsOf(restored)).toEqual(backedUp);
    const key = { SECRETSFLY_MASTER_KEY: masterKey };
    expect(succeeded(await onPostgres(['secret', 'get', 'web', 'prod', 'B'], restored, key)).stdout).toBe(
      'bé ✓ child\n',
    );
    expect(succeeded(await onPostgres(['audit', '--verify'], restored)).stdout).toMatch(/^audit log intact/);

    // Not over a database that holds data, unless --force: then all of it is replaced.
    succeeded(await onPostgres(['secret', 'set', 'acme', 'prod', 'LATER', 'x'], restored, key));
    const before = await rowsOf(restored);
    const refused = await onPostgres(['restore', file], restored);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toContain('pass --force');
    expect(await rowsOf(restored)).toEqual(before);
    // Not even with --force while a server runs on it: it would keep serving what it holds.
    const server = await spawnServe(tempDir(), { ...ENV, DATABASE_URL: restored });
    try {
      const busy = await onPostgres(['restore', file, '--force'], restored);
      expect(busy.code).toBe(1);
      expect(oneLine(busy)).toContain('a secretsfly server is using');
      expect(await rowsOf(restored)).toEqual(before);
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
    succeeded(await onPostgres(['restore', file, '--force'], restored));
    expect(await rowsOf(restored)).toEqual(backedUp);

    // One format for both engines: the same file restores into a DATA_DIR.
    const dataDir = tempDir();
    succeeded(await cli(['restore', file], dataDir));
    expect(succeeded(await cli(['secret', 'get', 'acme', 'prod', 'A'], dataDir, key)).stdout).toBe('second\n');
  });
});
