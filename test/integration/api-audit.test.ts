import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('HTTP API audit events', () => {
  let server: TestServer;
  let masterKey: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer();
    const { ctx } = server;
    masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await ctx.secrets.set(
      { project: 'acme', environment: 'prod', key: 'SHARED', value: 'from-root' },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
    const token = async (project: string, access: 'read' | 'read_write') =>
      (await ctx.tokens.create({ project, environment: 'prod', access }, actor)).token;
    tokens.rootRead = await token('acme', 'read');
    tokens.webRead = await token('acme-web', 'read');
    tokens.leafRead = await token('acme-web', 'read');
    tokens.leafWrite = await token('acme-web', 'read_write');
  });
  afterAll(() => server.close());

  it('should record api_read, api_write and api_denied with token id, IP and user agent, and no values', async () => {
    await call(server, '/api/v1/secrets', {
      token: tokens.rootRead!,
      masterKey,
      headers: { 'user-agent': 'audit-test/1.0' },
    });
    await call(server, '/api/v1/secrets/AUDITED', {
      method: 'PUT',
      token: tokens.leafWrite!,
      masterKey,
      body: { value: 'audited-value-123' },
    });
    await call(server, '/api/v1/secrets/AUDITED', {
      method: 'PUT',
      token: tokens.leafRead!,
      masterKey,
      body: { value: 'x' },
    });
    await server.ctx.audit.flush();
    const events = await server.ctx.audit.list({ limit: 50 });
    const read = events.find((e) => e.action === 'api_read' && e.userAgent === 'audit-test/1.0');
    expect(read).toMatchObject({
      actor: `token:${tokens.rootRead!.slice(5, 21)}`,
      ip: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(read!.details).toMatchObject({ token_id: tokens.rootRead!.slice(5, 21) });
    expect(events.find((e) => e.action === 'api_write' && e.key === 'AUDITED')).toBeDefined();
    expect(events.find((e) => e.action === 'api_denied' && e.key === 'AUDITED')?.details).toMatchObject({
      reason: 'forbidden',
    });
    expect(JSON.stringify(events)).not.toContain('audited-value-123');
  });

  it('should count a burst of identical pulls in one audit event, and keep different ones apart', async () => {
    await server.ctx.audit.flush();
    const agent = { 'user-agent': 'burst-test/1.0' };
    const burst = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(server, '/api/v1/secrets', { token: tokens.webRead!, masterKey, headers: agent }),
      ),
    );
    expect(burst.every((res) => res.status === 200)).toBe(true);
    await call(server, '/api/v1/secrets?format=dotenv', { token: tokens.webRead!, masterKey, headers: agent });
    await server.ctx.audit.flush();
    const reads = (await server.ctx.audit.list({ action: 'api_read', limit: 100 })).filter(
      (e) => e.userAgent === 'burst-test/1.0',
    );
    const json = reads.filter((e) => e.details?.format === 'json');
    // Coalesced per 100 ms batch: every pull is counted, in far fewer rows than pulls.
    expect(json.reduce((sum, e) => sum + Number(e.details?.count ?? 1), 0)).toBe(20);
    expect(json.length).toBeLessThan(5);
    expect(reads.filter((e) => e.details?.format === 'dotenv')).toHaveLength(1);
  });

  it('should not record a value pasted where the key goes when it refuses the request', async () => {
    const pasted = 'postgres:%2F%2Fapp:pa55word-in-a-path@db';
    const res = await call(server, `/api/v1/secrets/${pasted}`, {
      method: 'PUT',
      token: tokens.leafRead!,
      masterKey,
      body: { value: 'x' },
    });
    expect(res.status).toBe(403);
    await server.ctx.audit.flush();
    const denied = (await server.ctx.audit.list({ action: 'api_denied', limit: 10 }))[0]!;
    expect(denied.details).toMatchObject({ reason: 'forbidden' });
    expect(denied.key).toBeNull();
    expect(JSON.stringify(await server.ctx.audit.list({ limit: 1000 }))).not.toContain('pa55word');
    // Nor the logs: the test server logs every request at debug level.
    expect(server.logLines.join('')).not.toContain('pa55word');
    expect(server.logLines.join('')).toContain('/api/v1/secrets/:key');
  });
});
