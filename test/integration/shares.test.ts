import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, createTestContext, readAllStored, ROOT } from '../helpers/test-context.js';
import { FormClient } from '../helpers/form-client.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

interface ShareCrypto {
  encryptShare(text: string, passphrase?: string): Promise<{ ciphertext: string; key: string }>;
  decryptShare(ciphertext: string, key: string, passphrase?: string): Promise<string>;
}
const shareCrypto = () => import(pathToFileURL(path.join(ROOT, 'static/share-crypto.js')).href) as Promise<ShareCrypto>;
const SECRET = 'the launch code\nline two: ünïcode 🔐';

describe('one-time shares over HTTP', () => {
  let server: TestServer;
  let writeToken: string;
  let readToken: string;
  const create = async (text = SECRET, extra: Record<string, unknown> = {}, token = writeToken) => {
    const { ciphertext, key } = await (await shareCrypto()).encryptShare(text);
    const res = await call(server, '/api/v1/shares', {
      method: 'POST',
      token,
      body: { ciphertext, ttl: '1h', ...extra },
    });
    return { ...res, key, ciphertext };
  };

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.projects.create({ name: 'acme' }, actor);
    writeToken = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
    readToken = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor)).token;
  });
  afterAll(() => server.close());

  it('should need a read_write token or an admin session to create, by default', async () => {
    const { ciphertext } = await (await shareCrypto()).encryptShare('x');
    expect((await call(server, '/api/v1/shares', { method: 'POST', body: { ciphertext, ttl: '1h' } })).status).toBe(
      401,
    );
    expect((await create('x', {}, readToken)).status).toBe(403);
    const ok = await create();
    expect(ok.status).toBe(201);
    expect(ok.json).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      creator_key: expect.stringMatching(/^sfck_/),
      expires_at: expect.any(String),
    });

    await server.ctx.users.create('admin', 'a long enough password', actor);
    const admin = new FormClient(server.url);
    await admin.login('admin', 'a long enough password');
    await admin.get('/share');
    const viaSession = await fetch(`${server.url}/api/v1/shares`, {
      method: 'POST',
      headers: {
        cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        'content-type': 'application/json',
        'x-csrf-token': admin.lastCsrf,
      },
      body: JSON.stringify({ ciphertext, ttl: '15m' }),
    });
    expect(viaSession.status).toBe(201);
    const withoutCsrf = await fetch(`${server.url}/api/v1/shares`, {
      method: 'POST',
      headers: {
        cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ciphertext, ttl: '15m' }),
    });
    expect(withoutCsrf.status).toBe(401);
  });

  it('should never consume on GET, hand the ciphertext out once, then answer 410', async () => {
    const { json, key } = await create();
    const id = json.id as string;
    for (const path of [`/s/${id}`, `/api/v1/shares/${id}`, `/s/${id}`])
      expect((await call(server, path)).status).toBe(200);
    expect(
      (await call(server, `/api/v1/shares/${id}/status`, { headers: { 'x-creator-key': json.creator_key } })).json
        .state,
    ).toBe('pending');

    const revealed = await call(server, `/api/v1/shares/${id}/reveal`, { method: 'POST' });
    expect(revealed.status).toBe(200);
    expect(revealed.headers.get('cache-control')).toBe('no-store');
    expect(await (await shareCrypto()).decryptShare(revealed.json.ciphertext, key)).toBe(SECRET);
    const again = await call(server, `/api/v1/shares/${id}/reveal`, { method: 'POST' });
    expect([again.status, again.json.error.code, again.json.error.message]).toEqual([
      410,
      'gone',
      'this secret has already been viewed',
    ]);
    expect((await call(server, `/s/${id}`)).text).toContain('This secret has already been viewed');
    expect(
      (await call(server, `/api/v1/shares/${id}/status`, { headers: { 'x-creator-key': json.creator_key } })).json
        .state,
    ).toBe('viewed');
  });

  it('should give the ciphertext to exactly one of several concurrent reveals', async () => {
    const { json } = await create();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => call(server, `/api/v1/shares/${json.id}/reveal`, { method: 'POST' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 410, 410, 410, 410, 410]);
  });

  it('should burn with the creator key only', async () => {
    const { json } = await create();
    expect(
      (
        await call(server, `/api/v1/shares/${json.id}`, {
          method: 'DELETE',
          headers: { 'x-creator-key': 'sfck_wrong' },
        })
      ).status,
    ).toBe(404);
    expect((await call(server, `/api/v1/shares/${json.id}/status`)).status).toBe(404);
    expect(
      (
        await call(server, `/api/v1/shares/${json.id}`, {
          method: 'DELETE',
          headers: { 'x-creator-key': json.creator_key },
        })
      ).status,
    ).toBe(204);
    expect((await call(server, `/api/v1/shares/${json.id}/reveal`, { method: 'POST' })).json.error.message).toBe(
      'this secret is burned',
    );
  });

  it('should refuse oversized, malformed and plaintext bodies', async () => {
    const big = await call(server, '/api/v1/shares', {
      method: 'POST',
      token: writeToken,
      body: { ciphertext: `v1.n.a.b.${'c'.repeat(140_000)}`, ttl: '1h' },
    });
    expect([big.status, big.json.error.code]).toEqual([413, 'too_large']);
    const plain = await call(server, '/api/v1/shares', {
      method: 'POST',
      token: writeToken,
      body: { ciphertext: 'my password is hunter2', ttl: '1h' },
    });
    expect(plain.status).toBe(400);
    const ttl = await create('x', { ttl: '30d' });
    expect(ttl.status).toBe(400);
  });

  it('should keep only ciphertext and ids: never a plaintext, a link key, or content in the audit log', async () => {
    const marker = 'pl41ntext-share-marker';
    const { json, key } = await create(marker);
    await server.ctx.audit.flush();
    for (const { file, content } of await readAllStored(server.dataDir)) {
      expect(content.includes(Buffer.from(marker)), file).toBe(false);
      expect(content.includes(Buffer.from(key)), file).toBe(false);
      expect(content.includes(Buffer.from((json.creator_key as string).slice(5))), file).toBe(false);
    }
    const events = await server.ctx.audit.list({ action: 'share_created' });
    expect(events[0]!.details).toEqual({
      share_id: expect.any(String),
      expires_at: expect.any(String),
      protected: false,
    });
  });

  it('should refuse credentials in the query string here too', async () => {
    const res = await call(server, `/api/v1/shares?token=${writeToken}`, {
      method: 'POST',
      body: { ciphertext: 'v1.n.a.b.c', ttl: '1h' },
    });
    expect([res.status, res.json.error.code]).toEqual([400, 'invalid_request']);
  });

  it('should rate-limit reveals per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++)
      statuses.push((await call(server, `/api/v1/shares/${'x'.repeat(22)}/reveal`, { method: 'POST' })).status);
    expect(statuses).toContain(429);
  });
});

describe('share expiry', () => {
  it('should refuse an expired share on access, and the cleanup should destroy it and audit share_expired', async () => {
    let now = new Date('2026-11-22T12:00:00.000Z');
    const ctx = await createTestContext({ overrides: { now: () => now } });
    try {
      const { ciphertext } = await (await shareCrypto()).encryptShare('soon gone');
      const first = await ctx.shares.create({ ciphertext, ttl: '15m' }, actor);
      const second = await ctx.shares.create({ ciphertext, ttl: '1h' }, actor);
      now = new Date('2026-11-22T12:15:00.001Z');
      expect((await ctx.shares.peek(first.id)).state).toBe('expired');
      await expect(ctx.shares.reveal(first.id, actor)).rejects.toThrow('this secret is expired');
      expect(await ctx.shares.expireDue()).toBe(1);
      const row = await ctx.database.db
        .selectFrom('shares')
        .select(['state', 'ciphertext'])
        .where('id', '=', first.id)
        .executeTakeFirst();
      expect(row).toEqual({ state: 'expired', ciphertext: null });
      expect((await ctx.shares.peek(second.id)).state).toBe('pending');
      expect((await ctx.audit.list({ action: 'share_expired' })).map((e) => e.details)).toEqual([
        { share_id: first.id },
      ]);
    } finally {
      await ctx.dispose();
    }
  });

  it('should let anyone create when SHARES_REQUIRE_AUTH=false', async () => {
    const server = await startTestServer({ SHARES_REQUIRE_AUTH: 'false' });
    try {
      const { ciphertext } = await (await shareCrypto()).encryptShare('open');
      expect((await call(server, '/api/v1/shares', { method: 'POST', body: { ciphertext, ttl: 3600 } })).status).toBe(
        201,
      );
    } finally {
      await server.close();
    }
  });
});
