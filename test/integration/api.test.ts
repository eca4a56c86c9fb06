import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('HTTP API', () => {
  let server: TestServer;
  let masterKey: string;
  let otherMasterKey: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer();
    const { ctx } = server;
    masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    otherMasterKey = (await ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await ctx.projects.create({ name: 'acme-web-eu', parent: 'acme-web' }, actor);
    const key = { masterKey: new TextEncoder().encode(masterKey) };
    const set = (project: string, k: string, value: string, environment = 'prod') =>
      ctx.secrets.set({ project, environment, key: k, value }, key, actor);
    await set('acme', 'SHARED', 'from-root');
    await set('acme', 'DB_URL', 'postgres://root');
    await set('acme-web', 'DB_URL', 'postgres://web');
    await set('acme-web-eu', 'REGION', 'eu-west');
    await set('acme-web-eu', 'REGION', 'eu-central');
    await ctx.secrets.set(
      { project: 'other', environment: 'prod', key: 'OTHER', value: 'x' },
      { masterKey: new TextEncoder().encode(otherMasterKey) },
      actor,
    );
    const token = async (project: string, access: 'read' | 'read_write', environment = 'prod') =>
      (await ctx.tokens.create({ project, environment, access }, actor)).token;
    tokens.leafRead = await token('acme-web-eu', 'read');
    tokens.leafWrite = await token('acme-web-eu', 'read_write');
    tokens.webRead = await token('acme-web', 'read');
    tokens.rootRead = await token('acme', 'read');
    tokens.otherRead = await token('other', 'read');
    tokens.stagingRead = await token('acme-web-eu', 'read', 'staging');
  });
  afterAll(() => server.close());

  const pull = (token: string, key = masterKey, query = '') =>
    call(server, `/api/v1/secrets${query}`, { token, masterKey: key });

  it('should answer the status without authentication', async () => {
    const res = await call(server, '/api/v1/status');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('should resolve three levels of inheritance for the token’s own project and environment', async () => {
    const res = await pull(tokens.leafRead!);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('etag')).toBeNull();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.json).toEqual({
      project: 'acme-web-eu',
      environment: 'prod',
      secrets: { DB_URL: 'postgres://web', REGION: 'eu-central', SHARED: 'from-root' },
    });
    expect((await pull(tokens.stagingRead!)).json.secrets).toEqual({});
  });

  it('should give each value its version, source project and date with include=metadata', async () => {
    const res = await pull(tokens.leafRead!, masterKey, '?include=metadata');
    expect(res.json.secrets.REGION).toEqual({
      value: 'eu-central',
      version: 2,
      project: 'acme-web-eu',
      updated_at: expect.any(String),
    });
    expect(res.json.secrets.DB_URL).toMatchObject({ value: 'postgres://web', version: 1, project: 'acme-web' });
    expect(new Date(res.json.secrets.SHARED.updated_at).toISOString()).toBe(res.json.secrets.SHARED.updated_at);
  });

  it('should return one resolved key, or 404', async () => {
    const res = await call(server, '/api/v1/secrets/SHARED', { token: tokens.leafRead!, masterKey });
    expect(res.json).toEqual({ key: 'SHARED', value: 'from-root', version: 1, project: 'acme', environment: 'prod' });
    const missing = await call(server, '/api/v1/secrets/NOPE', { token: tokens.leafRead!, masterKey });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found');
  });

  it('should keep a token inside its own project: never its parent’s, child’s or another tree’s values', async () => {
    expect(Object.keys((await pull(tokens.webRead!)).json.secrets).sort()).toEqual(['DB_URL', 'SHARED']);
    expect((await pull(tokens.rootRead!)).json.secrets).toEqual({ DB_URL: 'postgres://root', SHARED: 'from-root' });
    expect((await pull(tokens.otherRead!, otherMasterKey)).json.secrets).toEqual({ OTHER: 'x' });
    // Another root's master key does not open this token's tree, and vice versa.
    expect((await pull(tokens.leafRead!, otherMasterKey)).json.error.code).toBe('invalid_master_key');
    expect((await pull(tokens.otherRead!, masterKey)).json.error.code).toBe('invalid_master_key');
  });

  it('should write and delete with a read_write token, and refuse both to a read token', async () => {
    const put = await call(server, '/api/v1/secrets/NEW_KEY', {
      method: 'PUT',
      token: tokens.leafWrite!,
      masterKey,
      body: { value: 'v1' },
    });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ key: 'NEW_KEY', version: 1 });
    const readPut = await call(server, '/api/v1/secrets/NEW_KEY', {
      method: 'PUT',
      token: tokens.leafRead!,
      masterKey,
      body: { value: 'x' },
    });
    expect(readPut.status).toBe(403);
    expect(readPut.json.error.code).toBe('forbidden');
    const readDelete = await call(server, '/api/v1/secrets/NEW_KEY', {
      method: 'DELETE',
      token: tokens.leafRead!,
      masterKey,
    });
    expect(readDelete.status).toBe(403);

    const del = await call(server, '/api/v1/secrets/NEW_KEY', {
      method: 'DELETE',
      token: tokens.leafWrite!,
      masterKey,
    });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    const again = await call(server, '/api/v1/secrets/NEW_KEY', {
      method: 'DELETE',
      token: tokens.leafWrite!,
      masterKey,
    });
    expect(again.status).toBe(404);
    // Deleting an inherited key is not the token project's to delete.
    expect(
      (await call(server, '/api/v1/secrets/SHARED', { method: 'DELETE', token: tokens.leafWrite!, masterKey })).status,
    ).toBe(404);
  });

  it('should answer unknown, revoked, expired and malformed tokens identically', async () => {
    const { ctx } = server;
    const revoked = await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    await ctx.tokens.revoke(revoked.view.id, actor);
    const expiring = await ctx.tokens.create(
      { project: 'acme', environment: 'prod', access: 'read', expiresInSeconds: 1 },
      actor,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const answers = await Promise.all(
      [`sfst_0123456789abcdef_${'A'.repeat(43)}`, revoked.token, expiring.token, 'garbage', ''].map(async (token) => {
        const res = await pull(token);
        return [res.status, res.text];
      }),
    );
    const missing = await call(server, '/api/v1/secrets', { masterKey });
    expect(missing.headers.get('cache-control')).toBe('no-store');
    for (const answer of [...answers, [missing.status, missing.text]]) {
      expect(answer).toEqual([
        401,
        JSON.stringify({ error: { code: 'invalid_token', message: 'invalid or expired service token' } }),
      ]);
    }
  });

  it('should answer a missing or wrong master key with 401 invalid_master_key', async () => {
    for (const key of [undefined, 'sfmk_' + 'B'.repeat(43), 'short']) {
      const res = await call(server, '/api/v1/secrets', { token: tokens.webRead!, ...(key && { masterKey: key }) });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_master_key');
    }
  });

  it('should refuse bad requests with 400 and oversized ones with 413', async () => {
    const write = (path: string, options: { body?: unknown; rawBody?: string; headers?: Record<string, string> }) =>
      call(server, path, { method: 'PUT', token: tokens.leafWrite!, masterKey, ...options });
    const cases: [Awaited<ReturnType<typeof write>>, number, string][] = [
      [await write('/api/v1/secrets/bad-key', { body: { value: 'x' } }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { rawBody: '{"value": ' }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { body: { nothing: 1 } }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { body: { value: 42 } }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { body: ['value'] }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { body: { value: 'x', cas: -1 } }), 400, 'invalid_request'],
      [await write('/api/v1/secrets/K', { body: { value: 'x'.repeat(65537) } }), 413, 'too_large'],
      [
        await write('/api/v1/secrets/K', { rawBody: JSON.stringify({ value: 'x'.repeat(1024 * 1024) }) }),
        413,
        'too_large',
      ],
      [
        await call(server, '/api/v1/secrets?format=xml', { token: tokens.leafRead!, masterKey }),
        400,
        'invalid_request',
      ],
    ];
    for (const [res, status, code] of cases) {
      expect([res.status, res.json?.error?.code], res.text).toEqual([status, code]);
    }
    const history = await server.ctx.secrets.list({ project: 'acme-web-eu', environment: 'prod' });
    expect(history.map((s) => s.key)).not.toContain('K');
  });

  it('should refuse a body over 1 MiB from its Content-Length, before receiving it', async () => {
    const url = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: '/api/v1/secrets/K',
        headers: {
          authorization: `Bearer ${tokens.leafWrite}`,
          'x-master-key': masterKey,
          'content-type': 'application/json',
          'content-length': String(50 * 1024 * 1024),
        },
      });
      req.on('response', (res) => {
        resolve(res.statusCode!);
        res.resume();
        req.destroy();
      });
      req.on('error', reject);
      // Only a sliver of the announced 50 MiB is ever sent: the answer must not wait for the rest.
      req.write('{"value":"');
    });
    expect(status).toBe(413);
  });

  it('should refuse credentials in the query string and never log them', async () => {
    for (const query of ['?token=' + tokens.leafRead, '?master_key=' + masterKey, '?access_token=abc']) {
      const res = await call(server, `/api/v1/secrets${query}`, { token: tokens.leafRead!, masterKey });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
    }
    const log = server.logLines.join('');
    expect(log).toContain('path="/api/v1/secrets"');
    expect(log).not.toContain(tokens.leafRead!.slice(22));
    expect(log).not.toContain(masterKey);
    expect(log).not.toContain('abc');
  });

  it('should write with compare-and-set: 409 on a stale version, cas 0 only creates', async () => {
    const put = (value: string, cas?: number) =>
      call(server, '/api/v1/secrets/CAS_KEY', {
        method: 'PUT',
        token: tokens.leafWrite!,
        masterKey,
        body: { value, ...(cas !== undefined && { cas }) },
      });
    expect((await put('first', 0)).json).toEqual({ key: 'CAS_KEY', version: 1 });
    const conflict = await put('again', 0);
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('version_conflict');
    expect((await put('stale', 5)).status).toBe(409);
    expect((await put('second', 1)).json.version).toBe(2);

    const racers = await Promise.all(['racer-a', 'racer-b', 'racer-c'].map((value) => put(value, 2)));
    expect(racers.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const winner = racers.find((r) => r.status === 200)!;
    const now = await call(server, '/api/v1/secrets/CAS_KEY', { token: tokens.leafRead!, masterKey });
    expect(now.json.version).toBe(3);
    expect(winner.json.version).toBe(3);
  });
});
