import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { onPostgres } from '../helpers/postgres.js';
import { copyDataDir } from '../helpers/stored-values.js';
import { actor, readAllStored, selectRows, snapshotDatabase } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// express-session's own signer: a forged cookie is exactly what the middleware would accept.
const { sign } = createRequire(import.meta.url)('cookie-signature') as {
  sign(value: string, secret: string): string;
};

/**
 * Every string a copy of the session store holds (sessions.db on SQLite, the admin_sessions table
 * of the copied database on PostgreSQL): column values, and every string inside JSON ones.
 */
async function storedStrings(copy: string): Promise<Set<string>> {
  const found = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string') {
      found.add(value);
      try {
        collect(JSON.parse(value));
      } catch {
        // Not JSON: the string itself is all there is.
      }
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(collect);
    }
  };
  if (onPostgres) {
    collect(await selectRows(copy, 'select * from admin_sessions'));
    return found;
  }
  const db = new SqliteDatabase(path.join(copy, 'sessions.db'));
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
    for (const { name } of tables) collect(db.prepare(`select * from "${name}"`).all());
  } finally {
    db.close();
  }
  return found;
}

describe('a copy of DATA_DIR taken while an admin is signed in', () => {
  let server: TestServer;
  let admin: FormClient;
  let copy: string;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', password, actor);
    const { masterKey } = await server.ctx.projects.create({ name: 'acme' }, actor);
    await server.ctx.secrets.set(
      { project: 'acme', environment: 'prod', key: 'DB_PASSWORD', value: 'hunter2-in-prod' },
      { masterKey: new TextEncoder().encode(masterKey!) },
      actor,
    );
    admin = new FormClient(server.url);
    await admin.login('admin', password);
    await admin.get('/projects/acme/envs/prod');
    const unsealed = await admin.post('/projects/acme/unseal', { masterKey: masterKey!, back: '/' });
    expect(unsealed.status).toBe(303);
    expect((await admin.get('/projects/acme/envs/prod/reveal')).text).toContain('hunter2-in-prod');

    // What a thief gets: every file, the WAL and the session secret included, while the admin works on.
    copy = await copyDataDir(server.dataDir);
  });
  afterAll(() => server.close());

  it('should give no forged cookie a signed-in session: not the stored ids, hashes or anything else', async () => {
    // The generated session secret: a file beside sessions.db, or a row every instance reads.
    const secret = onPostgres
      ? (
          await selectRows<{ value: string }>(copy, "select value from server_settings where name = 'session_secret'")
        )[0]!.value
      : fs.readFileSync(path.join(copy, 'session-secret'), 'utf8').trim();
    const candidates = await storedStrings(copy);
    expect(candidates.size).toBeGreaterThan(0);
    const csrfTokens = [...candidates].filter((value) => value.length >= 16);
    const before = await snapshotDatabase(server.dataDir);

    // The method is sound: the admin's real id, signed this way, is their session.
    const realSid = decodeURIComponent(admin.cookies.get('sf.sid')!).slice(2).split('.')[0]!;
    const control = new FormClient(server.url);
    control.cookies.set('sf.sid', encodeURIComponent(`s:${sign(realSid, secret)}`));
    expect((await control.get('/')).status).toBe(200);

    for (const candidate of candidates) {
      const thief = new FormClient(server.url);
      thief.cookies.set('sf.sid', encodeURIComponent(`s:${sign(candidate, secret)}`));
      const home = await thief.get('/');
      expect([home.status, home.location], candidate).toEqual([303, '/login']);
      const reveal = await thief.get('/projects/acme/envs/prod/reveal');
      expect([reveal.status, reveal.location], candidate).toEqual([303, '/login']);
      expect(reveal.text).not.toContain('hunter2-in-prod');
      for (const csrf of csrfTokens.slice(0, 5)) {
        const token = await thief.post('/projects/acme/tokens', { _csrf: csrf, environment: 'prod', name: 'x' });
        expect(token.status, candidate).not.toBe(200);
        expect(token.location ?? '', candidate).not.toContain('/tokens');
        const removed = await thief.post('/projects/acme/envs/prod/secrets/DB_PASSWORD/delete', { _csrf: csrf });
        expect(removed.location ?? '', candidate).not.toContain('/projects/acme');
      }
    }
    expect(candidates.has(realSid)).toBe(false);
    const after = await snapshotDatabase(server.dataDir);
    expect(after.service_tokens).toEqual(before.service_tokens);
    expect(after.secret_versions).toEqual(before.secret_versions);
  });

  it('should keep no session id, master key or value in any file of the copy', async () => {
    const realSid = decodeURIComponent(admin.cookies.get('sf.sid')!).slice(2).split('.')[0]!;
    for (const { file, content } of await readAllStored(copy)) {
      expect(content.includes(Buffer.from(realSid)), path.basename(file)).toBe(false);
      expect(content.includes(Buffer.from('hunter2-in-prod')), path.basename(file)).toBe(false);
    }
  });
});
