import { afterEach, describe, expect, it } from 'vitest';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The attacker holds a service token (leaked from CI logs, say) but not the master key, and wants
 * the legitimate app, which holds both, to stop getting its secrets. Each party is told apart by
 * its address, as a proxy in front of the server reports it (TRUST_PROXY).
 */
const ATTACKER = '203.0.113.66';
const APP = '198.51.100.7';

async function setUp(env: Record<string, string> = {}) {
  const server = await startTestServer({ TRUST_PROXY: 'true', MASTER_KEY_ATTEMPTS_PER_MINUTE: '5', ...env });
  const { ctx } = server;
  const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
  await ctx.secrets.set(
    { project: 'acme', environment: 'prod', key: 'DB_PASSWORD', value: 'hunter2' },
    { masterKey: new TextEncoder().encode(masterKey) },
    actor,
  );
  const token = (await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor)).token;
  // Seeding went through this process's keystore: the app's first pull below is a cold one.
  ctx.keystore.seal((await ctx.projects.byName('acme')).id);
  const pull = (from: string, key: string) =>
    call(server, '/api/v1/secrets', { token, masterKey: key, headers: { 'x-forwarded-for': from } });
  return { server, masterKey, pull };
}

describe('wrong master keys cannot lock the app out of its own secrets', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('should never answer 429 to malformed master keys, which cost no derivation', async () => {
    const t = await setUp();
    server = t.server;
    for (const malformed of Array.from({ length: 30 }, (_, i) => (i % 2 ? 'x' : `short${i}`))) {
      const res = await t.pull(ATTACKER, malformed);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_master_key');
    }
    // They spent nothing: the app's cold pull with the right key goes through.
    expect((await t.pull(APP, t.masterKey)).status).toBe(200);
  });

  it("should limit a token holder's wrong keys at its own address and still serve the app's cold pull", async () => {
    const t = await setUp();
    server = t.server;
    for (let i = 0; i < 10; i++) await t.pull(ATTACKER, 'x');
    for (let i = 0; i < 5; i++)
      expect((await t.pull(ATTACKER, `sfmk_${String(i).padStart(43, 'W')}`)).status).toBe(401);
    const limited = await t.pull(ATTACKER, `sfmk_${'G'.repeat(43)}`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right key waits at the guesser's address: the limit exists to stop guessing there.
    expect((await t.pull(ATTACKER, t.masterKey)).status).toBe(429);

    const app = await t.pull(APP, t.masterKey);
    expect(app.status).toBe(200);
    expect(app.json.secrets).toEqual({ DB_PASSWORD: 'hunter2' });
  });

  it('should still cap a guesser spread over many addresses per token, and still serve the app', async () => {
    const t = await setUp({ MASTER_KEY_ATTEMPTS_PER_TOKEN_PER_MINUTE: '8' });
    server = t.server;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 2; j++)
        statuses.push((await t.pull(`203.0.113.${i + 1}`, `sfmk_${String(i * 2 + j).padStart(43, 'W')}`)).status);
    // Eight wrong keys fill the token's ceiling; past it an address that has failed is refused, and
    // a new one gets a single try.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 401, 429, 401, 429]);
    // The app, whose key is right, is never locked out by them.
    expect((await t.pull(APP, t.masterKey)).status).toBe(200);
  });
});
