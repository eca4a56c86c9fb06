import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actor, rawSql } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('audit of refused tokens and repeated share reveals', () => {
  let server: TestServer;
  let masterKey: string;

  beforeEach(async () => {
    // Behind a proxy, so that a test can speak from many addresses as a botnet would.
    server = await startTestServer({ TRUST_PROXY: 'true' });
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
  });
  afterEach(() => server.close());

  const newToken = async () =>
    server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
  const pull = (token: string, ip = '203.0.113.7') =>
    call(server, '/api/v1/secrets', { token, masterKey, headers: { 'x-forwarded-for': ip } });
  const rejected = async () => {
    await server.ctx.audit.flush();
    return server.ctx.audit.list({ action: 'token_rejected', limit: 1000 });
  };

  it('should record use of an unknown token, counted per source address', async () => {
    for (let i = 0; i < 5; i++) {
      const guessed = `sfst_${i.toString(16).padStart(16, '0')}_${'A'.repeat(43)}`;
      expect((await pull(guessed)).status).toBe(401);
    }
    expect((await pull('not-even-a-token', '198.51.100.1')).status).toBe(401);
    const events = await rejected();
    expect(events.map((e) => [e.actor, e.ip, e.details]).sort()).toEqual([
      ['token:?', '198.51.100.1', { reason: 'malformed', count: 1 }],
      ['token:?', '203.0.113.7', { reason: 'unknown', count: 5 }],
    ]);
    expect(JSON.stringify(events)).not.toContain('A'.repeat(43));
  });

  it('should record use of a revoked token and of an expired one, naming the token', async () => {
    const revoked = await newToken();
    await server.ctx.tokens.revoke(revoked.view.id, actor);
    const expired = await newToken();
    await rawSql(
      server.dataDir,
      `update service_tokens set expires_at = '2000-01-01T00:00:00.000Z' where id = '${expired.view.id}'`,
    );
    expect((await pull(revoked.token)).status).toBe(401);
    expect((await pull(revoked.token)).status).toBe(401);
    expect((await pull(expired.token)).status).toBe(401);
    const events = await rejected();
    const byReason = (e: (typeof events)[number]) => String(e.details?.reason);
    expect(events.sort((a, b) => byReason(a).localeCompare(byReason(b))).map((e) => [e.actor, e.details])).toEqual([
      [`token:${expired.view.id}`, { reason: 'expired', token_id: expired.view.id, count: 1 }],
      [`token:${revoked.view.id}`, { reason: 'revoked', token_id: revoked.view.id, count: 2 }],
    ]);
    expect(JSON.stringify(events)).not.toContain(revoked.token);
  });

  it('should not let unknown tokens from many addresses write more than a bounded number of events', async () => {
    const addresses = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    for (const ip of addresses) expect((await pull(`sfst_${'0'.repeat(16)}_${'B'.repeat(43)}`, ip)).status).toBe(401);
    const events = await rejected();
    expect(events.length).toBeLessThanOrEqual(21);
    expect(events.reduce((sum, e) => sum + Number(e.details?.count ?? 1), 0)).toBe(200);
    expect(events.find((e) => e.details?.reason === 'many_sources')).toMatchObject({ ip: null });
  });

  it('should record a second reveal of a share', async () => {
    const { id } = await server.ctx.shares.create({ ciphertext: 'v1.n.AAAA.BBBB.CCCC', ttl: 3600 }, actor);
    const reveal = () =>
      call(server, `/api/v1/shares/${id}/reveal`, { method: 'POST', headers: { 'x-forwarded-for': '192.0.2.66' } });
    expect((await reveal()).status).toBe(200);
    expect((await reveal()).status).toBe(410);
    const refused = await server.ctx.audit.list({ action: 'share_reveal_refused' });
    expect(refused.map((e) => [e.ip, e.details])).toEqual([['192.0.2.66', { share_id: id, state: 'viewed' }]]);
  });
});
