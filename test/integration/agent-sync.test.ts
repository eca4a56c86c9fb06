import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HeldOnHost } from '../../src/agents/host-held.service.js';
import { signSync, syncSigningKey } from '../../src/agents/host-held-fns.js';
import { sha256Hex } from '../../src/crypto/hash.js';
import { parseKeyedToken, tokenProof } from '../../src/crypto/scoped-keys.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor, selectRows, writeSql } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The server's side of host-held secrets (issue 16): the signed, all-or-nothing sync of titles, and
 * the refusal of every server write of a name a host holds. Each attack is performed, and leaves
 * the stored titles exactly as they were.
 */
describe('agent sync', () => {
  let server: TestServer;
  let masterKey: string;
  let writeToken: string;
  let readToken: string;
  let otherToken: string;
  let keyedToken: string;

  const access = () => ({ masterKey: masterKeyBytes(masterKey) });

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const otherKey = (await server.ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'SERVER_HELD', value: 'v' },
      access(),
      actor,
    );
    const create = async (project: string, environment: string, write: boolean, key = masterKey) =>
      (
        await server.ctx.tokens.create(
          { project, environment, access: write ? 'read_write' : 'read', keyed: { masterKey: masterKeyBytes(key) } },
          actor,
        )
      ).token;
    writeToken = await create('app', 'prod', true);
    readToken = await create('app', 'prod', false);
    otherToken = await create('other', 'prod', true, otherKey);
    keyedToken = await create('app', 'staging', true);
  });
  afterAll(() => server.close());

  /** The credential an agent presents: a keyed token's proof (it never sends the part that unwraps keys). */
  const credential = (token: string) => {
    const keys = parseKeyedToken(token)!;
    return tokenProof(keys.id, keys.authKey);
  };

  const title = (name: string, extra: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    name,
    type: 'generic',
    project: 'app',
    environment: 'prod',
    ...extra,
  });

  interface Signed {
    agent?: string;
    token?: string;
    body?: unknown;
    rawBody?: string;
    timestamp?: number;
    signWith?: Uint8Array;
    signBody?: string;
  }

  /** A signed PUT as an agent sends it; each part can be bent for an attack. */
  function signed(options: Signed) {
    const agent = options.agent ?? 'web-1';
    const cred = credential(options.token ?? writeToken);
    const rawBody = options.rawBody ?? JSON.stringify(options.body ?? { secrets: [] });
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const path = `/api/v1/host-held/${agent}`;
    const signature = signSync(options.signWith ?? syncSigningKey(cred), {
      method: 'PUT',
      path,
      timestamp,
      body: options.signBody ?? rawBody,
    });
    return {
      path,
      init: {
        method: 'PUT',
        token: cred,
        rawBody,
        headers: { 'x-secretsfly-timestamp': timestamp, 'x-secretsfly-signature': `v1=${signature}` },
      },
    };
  }
  const send = (request: ReturnType<typeof signed>) => call(server, request.path, request.init);
  const sync = (options: Signed) => send(signed(options));
  const stored = () =>
    selectRows(server.dataDir, 'select id, agent, name, type from host_held_secrets order by agent, name');

  beforeEach(async () => {
    await writeSql(server.dataDir, 'delete from host_held_secrets');
    expect(
      (await sync({ body: { secrets: [title('DB_PASSWORD'), title('TLS_KEY', { type: 'certificate' })] } })).status,
    ).toBe(200);
  });

  it('should store the titles of a signed sync and list them marked with their host', async () => {
    expect((await stored()).map((r) => [r.agent, r.name, r.type])).toEqual([
      ['web-1', 'DB_PASSWORD', 'generic'],
      ['web-1', 'TLS_KEY', 'certificate'],
    ]);
    const listed = await call(server, '/api/v1/host-held', { token: readToken });
    expect(listed.status).toBe(200);
    expect(listed.json.project).toBe('app');
    expect(listed.json.secrets.map((s: any) => [s.name, s.held_on_host])).toEqual([
      ['DB_PASSWORD', 'web-1'],
      ['TLS_KEY', 'web-1'],
    ]);
    const held = await server.ctx.secrets.list({ project: 'app', environment: 'prod' });
    expect(held.map((r) => r.key)).toEqual(['SERVER_HELD']);
  });

  it('should replace only the syncing agent’s set, and another agent may hold the same name', async () => {
    expect((await sync({ agent: 'web-2', body: { secrets: [title('DB_PASSWORD')] } })).status).toBe(200);
    expect((await sync({ body: { secrets: [title('API_KEY')] } })).status).toBe(200);
    expect((await stored()).map((r) => [r.agent, r.name])).toEqual([
      ['web-1', 'API_KEY'],
      ['web-2', 'DB_PASSWORD'],
    ]);
  });

  it('should refuse an exact replay inside the window', async () => {
    const request = signed({ body: { secrets: [title('ONLY_ONE')] } });
    expect((await send(request)).status).toBe(200);
    await sync({ body: { secrets: [title('DB_PASSWORD')] } });
    const before = await stored();
    const replay = await send(request);
    expect([replay.status, replay.json.error.code]).toEqual([401, 'invalid_signature']);
    expect(replay.json.error.message).toContain('replay');
    expect(await stored()).toEqual(before);
  });

  it('should refuse a timestamp more than five minutes old or ahead', async () => {
    const before = await stored();
    for (const skew of [-301, 301]) {
      const stale = await sync({ timestamp: Math.floor(Date.now() / 1000) + skew, body: { secrets: [] } });
      expect([stale.status, stale.json.error.code]).toEqual([401, 'invalid_signature']);
    }
    expect(await stored()).toEqual(before);
  });

  it('should refuse a wrong signature, an altered body, or a key made from what the database holds', async () => {
    const before = await stored();
    const body = { secrets: [] };
    const forged = [
      await sync({ body, signWith: syncSigningKey('sfzk_0000000000000000_' + 'A'.repeat(43)) }),
      await sync({ body, signBody: JSON.stringify({ secrets: [title('X')] }) }),
      // The thief has service_tokens.token_hash (SHA-256 of the authentication key), not the key.
      await sync({ body, signWith: syncSigningKey(sha256Hex(credential(writeToken))) }),
      await call(server, '/api/v1/host-held/web-1', { method: 'PUT', token: credential(writeToken), body }),
    ];
    for (const answer of forged) expect([answer.status, answer.json.error.code]).toEqual([401, 'invalid_signature']);
    expect(await stored()).toEqual(before);
  });

  it('should refuse titles of another project, whatever the token', async () => {
    const before = await stored();
    const foreign = await sync({ token: otherToken, body: { secrets: [title('DB_PASSWORD')] } });
    expect([foreign.status, foreign.json.error.code]).toEqual([403, 'forbidden']);
    // The other project's token sees none of app's titles.
    expect((await call(server, '/api/v1/host-held', { token: otherToken })).json.secrets).toEqual([]);
    const mixed = await sync({ body: { secrets: [title('A'), title('B', { environment: 'staging' })] } });
    expect(mixed.status).toBe(403);
    expect(await stored()).toEqual(before);
  });

  it('should refuse 501 titles, and a read-only token', async () => {
    const before = await stored();
    const many = Array.from({ length: 501 }, (_, i) => title(`K_${i}`));
    const tooMany = await sync({ body: { secrets: many } });
    expect([tooMany.status, tooMany.json.error.code]).toEqual([413, 'too_large']);
    expect((await sync({ body: { secrets: many.slice(0, 500) } })).status).toBe(200);
    expect((await stored()).length).toBe(500);
    await sync({ body: { secrets: before.map((r) => title(r.name)) } });
    const read = await sync({ token: readToken, body: { secrets: [] } });
    expect([read.status, read.json.error.code]).toEqual([403, 'forbidden']);
  });

  it('should refuse the whole batch for one bad item', async () => {
    const before = await stored();
    for (const bad of [
      title('1BAD'),
      title('GOOD', { value: 'leaked' }),
      title('GOOD', { type: 'password' }),
      { ...title('GOOD'), id: 'not-a-uuid' },
    ]) {
      const answer = await sync({ body: { secrets: [title('FINE'), bad] } });
      expect([answer.status, answer.json.error.code]).toEqual([400, 'invalid_request']);
    }
    const dup = title('DUP');
    expect((await sync({ body: { secrets: [dup, { ...dup, name: 'OTHER' }] } })).status).toBe(400);
    expect((await sync({ rawBody: '{"secrets": [' })).status).toBe(400);
    expect(await stored()).toEqual(before);
  });

  it('should refuse a name or an id of a server-held secret', async () => {
    const before = await stored();
    const byName = await sync({ body: { secrets: [title('FINE'), title('SERVER_HELD')] } });
    expect([byName.status, byName.json.error.code]).toEqual([409, 'already_exists']);
    expect(byName.json.error.message).toContain('SERVER_HELD');
    const [{ id }] = await selectRows(server.dataDir, "select id from secrets where key = 'SERVER_HELD'");
    const byId = await sync({ body: { secrets: [{ ...title('FINE'), id }] } });
    expect([byId.status, byId.json.error.code]).toEqual([409, 'already_exists']);
    // An id of another environment's titles is not this scope's to take.
    const [{ id: taken }] = await selectRows(server.dataDir, "select id from host_held_secrets where name = 'TLS_KEY'");
    const elsewhere = await sync({
      token: keyedToken,
      body: { secrets: [{ ...title('X', { environment: 'staging' }), id: taken }] },
    });
    expect(elsewhere.status).toBe(409);
    expect(await stored()).toEqual(before);
  });

  it('should refuse a write, update or delete of a host-held name through the API, with a 409 naming the host', async () => {
    const put = await call(server, '/api/v1/secrets/DB_PASSWORD', {
      method: 'PUT',
      token: writeToken,
      body: { value: 'from-the-api' },
    });
    expect([put.status, put.json.error.code]).toEqual([409, 'already_exists']);
    expect(put.json.error.message).toContain('held on host web-1');
    const cas = await call(server, '/api/v1/secrets/TLS_KEY', {
      method: 'PUT',
      token: writeToken,
      body: { value: 'x', cas: 0 },
    });
    expect(cas.status).toBe(409);
    const del = await call(server, '/api/v1/secrets/DB_PASSWORD', { method: 'DELETE', token: writeToken });
    expect([del.status, del.json.error.message]).toEqual([409, expect.stringContaining('web-1')]);
    expect(await selectRows(server.dataDir, "select key from secrets where key in ('DB_PASSWORD', 'TLS_KEY')")).toEqual(
      [],
    );
  });

  it('should refuse the same writes from the services the UI and the CLI use, import included', async () => {
    const scope = { project: 'app', environment: 'prod' };
    await expect(server.ctx.secrets.set({ ...scope, key: 'DB_PASSWORD', value: 'x' }, access(), actor)).rejects.toThrow(
      HeldOnHost,
    );
    await expect(server.ctx.secrets.remove({ ...scope, key: 'DB_PASSWORD' }, actor)).rejects.toThrow(HeldOnHost);
    await expect(
      server.ctx.secrets.importDotenv({ ...scope, content: 'OK=1\nTLS_KEY=2\n' }, access(), actor),
    ).rejects.toThrow(/TLS_KEY is held on host web-1/);
    expect(await selectRows(server.dataDir, "select key from secrets where key in ('OK', 'TLS_KEY')")).toEqual([]);
    // Elsewhere the name is free: another environment, or once the host stops holding it.
    await server.ctx.secrets.set(
      { project: 'app', environment: 'staging', key: 'DB_PASSWORD', value: 'x' },
      access(),
      actor,
    );
    await sync({ body: { secrets: [] } });
    await server.ctx.secrets.set({ ...scope, key: 'DB_PASSWORD', value: 'now-server-held' }, access(), actor);
    await server.ctx.secrets.remove({ ...scope, key: 'DB_PASSWORD' }, actor);
  });

  it('should move a title to the agent that now lists its id in the same scope (a renamed host)', async () => {
    const [{ id }] = await selectRows(server.dataDir, "select id from host_held_secrets where name = 'TLS_KEY'");
    expect((await sync({ agent: 'web-1-renamed', body: { secrets: [{ ...title('TLS_KEY'), id }] } })).status).toBe(200);
    expect((await stored()).map((r) => [r.agent, r.name])).toEqual([
      ['web-1', 'DB_PASSWORD'],
      ['web-1-renamed', 'TLS_KEY'],
    ]);
  });

  it('should accept a sync from a keyed token of another environment for its own scope only', async () => {
    const staging = await sync({ token: keyedToken, body: { secrets: [title('S', { environment: 'staging' })] } });
    expect(staging.status).toBe(200);
    expect(staging.json).toMatchObject({ agent: 'web-1', project: 'app', environment: 'staging', count: 1 });
    expect((await stored()).map((r) => r.name)).toEqual(['DB_PASSWORD', 'S', 'TLS_KEY']);
  });
});
