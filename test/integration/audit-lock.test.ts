import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { WRITE_LOCK } from '../../src/db/postgres.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { databaseUrlFor, onPostgres } from '../helpers/postgres.js';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The write lock taken from another connection, as another process would: SQLite's file lock
 * (BEGIN IMMEDIATE), or on PostgreSQL the advisory lock every write transaction takes.
 */
async function takeWriteLock(dataDir: string): Promise<{ release(): Promise<void> }> {
  if (onPostgres) {
    const client = new pg.Client({ connectionString: await databaseUrlFor(dataDir) });
    await client.connect();
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [WRITE_LOCK]);
    return {
      async release() {
        await client.query('commit');
        await client.end();
      },
    };
  }
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'));
  sqlite.exec('begin immediate');
  return {
    async release() {
      sqlite.exec('commit');
      sqlite.close();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('audit events while another process holds the write lock', () => {
  let server: TestServer;
  let masterKey: string;
  let token: string;

  beforeEach(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    const access = { masterKey: masterKeyBytes(masterKey) };
    await server.ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'K', value: 'v' }, access, actor);
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor)).token;
    // The first pull proves the key and notes the token's use: both done before the lock is taken.
    expect((await call(server, '/api/v1/secrets', { token, masterKey })).status).toBe(200);
    await server.ctx.audit.flush();
  });
  afterEach(() => server.close());

  const readCount = async () =>
    (await server.ctx.audit.list({ action: 'api_read', limit: 1000 })).reduce(
      (sum, e) => sum + Number(e.details?.count ?? 1),
      0,
    );

  it('should answer reads, log the failed flush, and write every read event once the lock is released', async () => {
    const before = await readCount();
    // Another process (a CLI re-encryption, a backup tool) takes the write lock for longer than busy_timeout.
    const locker = await takeWriteLock(server.dataDir);
    let pulls = 0;
    try {
      const started = Date.now();
      while (Date.now() - started < 6000) {
        const t0 = Date.now();
        const answer = await call(server, '/api/v1/secrets', { token, masterKey });
        expect(answer.status).toBe(200);
        expect(Date.now() - t0).toBeLessThan(1000);
        pulls += 1;
        await sleep(150);
      }
      expect(server.logLines.some((line) => / (warn|error) audit events not written yet/.test(line))).toBe(true);
      expect(await readCount()).toBe(before);
    } finally {
      await locker.release();
    }
    // No flush from the test: the queue retries on its own.
    for (let waited = 0; waited < 10_000 && (await readCount()) < before + pulls; waited += 200) await sleep(200);
    expect(await readCount()).toBe(before + pulls);
    expect(await server.ctx.audit.verify()).toMatchObject({ ok: true });
  }, 30_000);
});
