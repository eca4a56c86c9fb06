import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, snapshotDatabase } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

// A client that puts a credential in the URL leaks it to proxies, access logs and shell histories:
// every spelling a framework might accept is refused, not only the three exact names.
describe('credentials in the query string, in any spelling', () => {
  let server: TestServer;
  let token: string;
  let masterKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(() => server.close());

  const spellings = (value: string) => [
    `Token=${value}`,
    `TOKEN=${value}`,
    `token[]=${value}`,
    `Access_Token=${value}`,
    `access-token=${value}`,
    `MASTER_KEY[]=${value}`,
    `master_key[0]=${value}`,
    `Master-Key=${value}`,
    `x-master-key=${value}`,
    `X_MASTER_KEY=${value}`,
    `X-Master-Key[]=${value}`,
    `%54oken=${value}`,
    `format=json&tOkEn=${value}`,
    // Under any other name, a value that has the shape of a token or master key.
    `t=${value}`,
    `auth=${value}`,
  ];

  it('should refuse a pull whose URL carries a credential under another case, dash or brackets', async () => {
    for (const query of [...spellings(token), ...spellings(masterKey)]) {
      // The headers are right: only the URL makes this request wrong.
      const res = await call(server, `/api/v1/secrets?${query}`, { token, masterKey });
      expect(res.status, query).toBe(400);
      expect(res.json.error.code, query).toBe('invalid_request');
    }
    const log = server.logLines.join('');
    expect(log).not.toContain(token.slice(22));
    expect(log).not.toContain(masterKey);
  });

  it('should refuse a write and a share creation that carry one, and change nothing', async () => {
    await server.ctx.audit.flush();
    const before = await snapshotDatabase(server.dataDir);
    for (const query of spellings(token)) {
      const put = await call(server, `/api/v1/secrets/LEAKED?${query}`, {
        method: 'PUT',
        token,
        masterKey,
        body: { value: 'v' },
      });
      expect(put.status, query).toBe(400);
      const share = await call(server, `/api/v1/shares?${query}`, {
        method: 'POST',
        token,
        body: { ciphertext: 'x'.repeat(64), ttl: '1h' },
      });
      expect(share.status, query).toBe(400);
      expect(share.json.error.code, query).toBe('invalid_request');
    }
    expect(await snapshotDatabase(server.dataDir)).toEqual(before);
  });

  it('should still serve a URL whose parameters only look alike', async () => {
    const res = await call(server, '/api/v1/secrets?format=dotenv&tokens_doc=1', { token, masterKey });
    expect(res.status).toBe(200);
  });
});
