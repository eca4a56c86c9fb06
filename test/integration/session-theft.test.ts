import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor, snapshotDatabase, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// express-session's own signer: a forged cookie is exactly what the middleware would accept.
const { sign } = createRequire(import.meta.url)('cookie-signature') as {
  sign(value: string, secret: string): string;
};

/** Every string a copy of sessions.db holds: column values, and every string inside JSON ones. */
function storedStrings(file: string): Set<string> {
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
  const db = new SqliteDatabase(file);
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
    copy = tempDir('stolen-');
    fs.cpSync(server.dataDir, copy, { recursive: true });
  });
  afterAll(() => server.close());

  it('should give no forged cookie a signed-in session: not the stored ids, hashes or anything else', async () => {
    const secret = fs.readFileSync(path.join(copy, 'session-secret'), 'utf8').trim();
    const candidates = storedStrings(path.join(copy, 'sessions.db'));
    expect(candidates.size).toBeGreaterThan(0);
    const csrfTokens = [...candidates].filter((value) => value.length >= 16);
    const before = snapshotDatabase(server.dataDir);

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
    const after = snapshotDatabase(server.dataDir);
    expect(after.service_tokens).toEqual(before.service_tokens);
    expect(after.secret_versions).toEqual(before.secret_versions);
  });

  it('should keep no session id, master key or value in any file of the copy', () => {
    const realSid = decodeURIComponent(admin.cookies.get('sf.sid')!).slice(2).split('.')[0]!;
    for (const entry of fs.readdirSync(copy, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const content = fs.readFileSync(path.join(entry.parentPath, entry.name));
      expect(content.includes(Buffer.from(realSid)), entry.name).toBe(false);
      expect(content.includes(Buffer.from('hunter2-in-prod')), entry.name).toBe(false);
    }
  });
});
