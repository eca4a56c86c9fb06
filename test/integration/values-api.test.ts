import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, snapshotDatabase } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Values that JavaScript, UTF-8 or environment variables tend to drop or alter, through the real API. */
describe('odd values through the HTTP API', () => {
  let server: TestServer;
  let masterKey: string;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(() => server.close());

  const put = (key: string, body: unknown) =>
    call(server, `/api/v1/secrets/${key}`, { method: 'PUT', token, masterKey, body });
  const pull = (query = '') => call(server, `/api/v1/secrets${query}`, { token, masterKey });
  // What a refused write must leave alone (the token's last_used_at moves on any call, as it should).
  const stored = async () => {
    const { secrets, secret_versions, root_keys } = await snapshotDatabase(server.dataDir);
    return { secrets, secret_versions, root_keys };
  };

  it('should keep a key named __proto__ in JSON pulls, with metadata, alone and as shell', async () => {
    expect((await put('__proto__', { value: 'polluted?' })).status).toBe(200);
    expect((await put('NORMAL', { value: 'plain' })).status).toBe(200);

    const plain = await pull();
    expect(plain.status).toBe(200);
    expect(Object.keys(plain.json.secrets).sort()).toEqual(['NORMAL', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(plain.json.secrets, '__proto__')?.value).toBe('polluted?');

    const withMetadata = await pull('?include=metadata');
    expect(Object.getOwnPropertyDescriptor(withMetadata.json.secrets, '__proto__')?.value).toMatchObject({
      value: 'polluted?',
      project: 'acme',
    });

    const single = await call(server, '/api/v1/secrets/__proto__', { token, masterKey });
    expect(single.json).toMatchObject({ key: '__proto__', value: 'polluted?' });

    expect((await pull('?format=shell')).text).toContain("export __proto__='polluted?'\n");
  });

  it('should answer a dotenv pull holding __proto__ with 422 naming it, as the dotenv parser drops that key', async () => {
    const res = await pull('?format=dotenv');
    expect(res.status).toBe(422);
    expect(res.json.error).toMatchObject({ code: 'not_representable' });
    expect(res.json.error.message).toContain('__proto__');
    expect((await call(server, '/api/v1/secrets/__proto__', { method: 'DELETE', token, masterKey })).status).toBe(204);
    expect((await pull('?format=dotenv')).status).toBe(200);
  });

  it('should refuse a lone surrogate with 400 naming the key, and store nothing', async () => {
    const before = await stored();
    for (const rawBody of ['{"value":"abc\\ud800"}', '{"value":"\\udc00abc"}']) {
      const res = await call(server, '/api/v1/secrets/HALF_PAIR', { method: 'PUT', token, masterKey, rawBody });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
      expect(res.json.error.message).toContain('HALF_PAIR');
    }
    expect(await stored()).toEqual(before);
    // A whole pair is fine and comes back as it went in.
    expect((await put('EMOJI', { value: '\ud83d\ude00' })).status).toBe(200);
    expect((await pull()).json.secrets.EMOJI).toBe('😀');
  });

  it('should refuse a NUL character with 400 naming the key, and store nothing', async () => {
    const before = await stored();
    const res = await put('WITH_NUL', { value: 'before\u0000after' });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_request');
    expect(res.json.error.message).toContain('WITH_NUL');
    expect(res.json.error.message).not.toContain('before');
    expect(await stored()).toEqual(before);
  });

  it('should keep a leading byte order mark in every format', async () => {
    const value = '\ufeffstarts with a BOM';
    expect((await put('BOM', { value })).status).toBe(200);
    expect((await pull()).json.secrets.BOM).toBe(value);
    expect((await call(server, '/api/v1/secrets/BOM', { token, masterKey })).json.value).toBe(value);
    const { parse } = await import('dotenv');
    expect(parse((await pull('?format=dotenv')).text).BOM).toBe(value);
    expect((await pull('?format=shell')).text).toContain(`export BOM='${value}'\n`);
  });
});
