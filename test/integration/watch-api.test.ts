import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyedToken, tokenProof } from '../../src/crypto/scoped-keys.js';
import { WATCHES_PER_TOKEN } from '../../src/secrets/watch.service.js';
import { actor, selectRows } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/** GET /api/v1/watch: a long-poll on the token's tree revision (run --watch). */
describe('the watch endpoint', () => {
  let server: TestServer;
  let classic: string;
  let keyed: string;
  let masterKey: string;
  const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
  const write = (project: string, key: string, value: string, key2 = masterKey) =>
    server.ctx.secrets.set(
      { project, environment: 'prod', key, value },
      { masterKey: new TextEncoder().encode(key2) },
      actor,
    );
  let otherKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'app-web', parent: 'app' }, actor);
    otherKey = (await server.ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await write('app', 'A', '1');
    classic = (await server.ctx.tokens.create({ project: 'app-web', environment: 'prod', access: 'read' }, actor))
      .token;
    keyed = (
      await server.ctx.tokens.create(
        { project: 'app-web', environment: 'prod', access: 'read', keyed: access() },
        actor,
      )
    ).token;
  });
  afterAll(() => server.close());

  const watch = (token: string, since?: string, headers: Record<string, string> = {}) =>
    call(server, `/api/v1/watch${since === undefined ? '' : `?since=${encodeURIComponent(since)}`}`, {
      token,
      headers,
    });

  it('should answer at once without since, or when since is another revision', async () => {
    const first = await watch(classic);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ revision: expect.any(String) });
    expect(first.headers.get('cache-control')).toBe('no-store');
    const started = performance.now();
    const other = await watch(classic, `${first.json.revision}0`);
    expect(other.json).toEqual(first.json);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('should hold the request until a write in the tree, then answer the new revision within ~1 s', async () => {
    const { revision } = (await watch(keyed)).json as { revision: string };
    const started = performance.now();
    const held = watch(keyed, revision);
    let answered = false;
    void held.then(() => (answered = true));
    // A write in another tree wakes nothing.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await write('other', 'B', '2', otherKey);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(answered).toBe(false);
    const writtenAt = performance.now();
    await write('app', 'A', '2');
    const answer = await held;
    const latency = performance.now() - writtenAt;
    expect(answer.status).toBe(200);
    expect(answer.json.revision).not.toBe(revision);
    expect(answer.json).toEqual((await watch(keyed)).json);
    expect(latency).toBeLessThan(1000);
    expect(performance.now() - started).toBeGreaterThan(1000);
  });

  it('should accept a token proof, which opens nothing, and no master key with a classic token', async () => {
    const keys = parseKeyedToken(keyed)!;
    const proof = tokenProof(keys.id, keys.authKey);
    const answer = await watch(proof);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual((await watch(classic)).json);
    // The pull refuses it: the watch tells only that something changed, never what.
    expect((await call(server, '/api/v1/secrets', { token: proof })).status).toBe(403);
  });

  it('should check a master key sent along, and refuse bad tokens and bad since', async () => {
    expect((await watch(classic, undefined, { 'x-master-key': masterKey })).status).toBe(200);
    const wrong = await watch(classic, undefined, { 'x-master-key': otherKey });
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 'invalid_master_key']);
    expect((await watch('sfst_nope')).status).toBe(401);
    expect((await watch(classic, 'x'.repeat(65))).status).toBe(400);
    const { token, view } = await server.ctx.tokens.create(
      { project: 'app', environment: 'prod', access: 'read' },
      actor,
    );
    expect((await watch(token)).status).toBe(200);
    await server.ctx.tokens.revoke(view.id, actor);
    const revoked = await watch(token);
    expect([revoked.status, revoked.json.error.code]).toEqual([401, 'invalid_token']);
  });

  it('should audit nothing per watch', async () => {
    await server.ctx.audit.flush();
    const count = async () =>
      (await selectRows<{ n: number }>(server.dataDir, 'select count(*) as n from audit_events'))[0]!.n;
    const before = Number(await count());
    const { revision } = (await watch(classic)).json as { revision: string };
    for (let i = 0; i < 5; i++) await watch(classic, `${revision}0`);
    await server.ctx.audit.flush();
    expect(Number(await count())).toBe(before);
  });

  it(`should hold at most ${WATCHES_PER_TOKEN} watches per token, and answer held ones when the client leaves or the server stops`, async () => {
    const { token } = await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor);
    const { revision } = (await watch(token)).json as { revision: string };
    const leaving = new AbortController();
    const held = Array.from({ length: WATCHES_PER_TOKEN }, () =>
      fetch(`${server.url}/api/v1/watch?since=${revision}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: leaving.signal,
      }).catch(() => undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await watch(token, revision);
    expect([refused.status, refused.json.error.code]).toEqual([429, 'rate_limited']);
    expect(refused.headers.get('retry-after')).toBe('5');
    leaving.abort();
    await Promise.all(held);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The ones that left no longer count.
    const again = watch(token, revision);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    const closed = server.close();
    const answer = await again;
    expect(answer.json).toEqual({ revision });
    expect(performance.now() - started).toBeLessThan(500);
    await closed;
  });
});
