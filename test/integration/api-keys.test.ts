import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContextOverrides } from '../../src/main.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { actor, blobSql, rawSql, runCli, tempDir } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

async function setUp(env: Record<string, string> = {}, overrides: ContextOverrides = {}) {
  const server = await startTestServer(env, overrides);
  const { ctx } = server;
  const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
  await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
  const bytes = { masterKey: new TextEncoder().encode(masterKey) };
  await ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'A', value: 'a1' }, bytes, actor);
  await ctx.secrets.set({ project: 'acme-web', environment: 'prod', key: 'B', value: 'b1' }, bytes, actor);
  const token = (await ctx.tokens.create({ project: 'acme-web', environment: 'prod', access: 'read' }, actor)).token;
  // Seeding went through this process's keystore: start every test with nothing cached.
  ctx.keystore.seal((await ctx.projects.byName('acme')).id);
  const pull = (key = masterKey, as = token) => call(server, '/api/v1/secrets', { token: as, masterKey: key });
  return { server, ctx, masterKey, token, pull };
}

describe('API key handling', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('should derive once for a master key, then serve from the cache; a wrong key neither succeeds nor evicts it', async () => {
    const t = await setUp();
    server = t.server;
    const start = t.ctx.kdf.derivations;
    expect((await t.pull()).status).toBe(200);
    expect(t.ctx.kdf.derivations).toBe(start + 1);
    for (let i = 0; i < 5; i++) expect((await t.pull()).status).toBe(200);
    expect(t.ctx.kdf.derivations).toBe(start + 1);

    const wrong = await t.pull('sfmk_' + 'W'.repeat(43));
    expect(wrong.status).toBe(401);
    expect(t.ctx.kdf.derivations).toBe(start + 2);
    expect((await t.pull()).status).toBe(200);
    expect(t.ctx.kdf.derivations).toBe(start + 2);
    // The cache never makes the root look unsealed to an admin.
    expect(t.ctx.keystore.isUnsealed((await t.ctx.projects.byName('acme')).id)).toBe(false);
  });

  it('should answer a burst of cold pulls with the right key from one derivation, none refused', async () => {
    // As after a deploy: 20 app instances pull at once and nothing is cached yet. The wrong-key
    // limit is 5; a derivation each would have spent it on right keys and answered 429.
    // A derivation slow enough (2^15, tens of ms) that the whole burst arrives while it runs, as
    // with the real cost: with the tests' cheap one it could end before the last request came in.
    const t = await setUp(
      { MASTER_KEY_ATTEMPTS_PER_MINUTE: '5' },
      { kdfParams: { alg: 'scrypt', v: 1, N: 2 ** 15, r: 8, p: 1 } },
    );
    server = t.server;
    const start = t.ctx.kdf.derivations;
    const results = await Promise.all(Array.from({ length: 20 }, () => t.pull()));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(results.every((r) => r.json.secrets.B === 'b1')).toBe(true);
    expect(t.ctx.kdf.derivations - start).toBe(1);

    // A burst with one wrong key shares its derivation too, and fails as a whole.
    const wrong = await Promise.all(Array.from({ length: 10 }, () => t.pull('sfmk_' + 'W'.repeat(43))));
    expect(wrong.map((r) => r.status)).toEqual(Array(10).fill(401));
    expect(t.ctx.kdf.derivations - start).toBe(2);
  });

  it('should never derive for a request without a valid token or without a master key', async () => {
    const t = await setUp();
    server = t.server;
    const start = t.ctx.kdf.derivations;
    const bad = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        call(server!, '/api/v1/secrets', {
          token: `sfst_${i.toString(16).padStart(16, '0')}_${'x'.repeat(43)}`,
          masterKey: t.masterKey,
        }),
      ),
    );
    expect(bad.every((r) => r.status === 401 && r.json.error.code === 'invalid_token')).toBe(true);
    expect((await call(server, '/api/v1/secrets', { token: t.token })).json.error.code).toBe('invalid_master_key');
    expect(t.ctx.kdf.derivations).toBe(start);
  });

  it('should not decrypt again while nothing changed, and see a write by another process at the very next pull', async () => {
    const t = await setUp();
    server = t.server;
    expect((await t.pull()).json.secrets).toEqual({ A: 'a1', B: 'b1' });

    // Corrupt B's stored ciphertext behind the server's back, without a revision bump: a pull that
    // decrypted again would fail. It does not.
    await rawSql(
      server.dataDir,
      `create table saved as select * from secret_versions;
      update secret_versions set ciphertext = ${blobSql(Buffer.alloc(60))}`,
    );
    expect((await t.pull()).json.secrets).toEqual({ A: 'a1', B: 'b1' });
    await rawSql(
      server.dataDir,
      `update secret_versions set ciphertext = (select s.ciphertext from saved s
      where s.secret_id = secret_versions.secret_id and s.version = secret_versions.version); drop table saved;`,
    );

    const keyFile = path.join(tempDir(), 'k');
    fs.writeFileSync(keyFile, t.masterKey);
    const cli = await runCli(['secret', 'set', 'acme', 'prod', 'A', 'a2', '--master-key-file', keyFile], {
      dataDir: server.dataDir,
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect((await t.pull()).json.secrets).toEqual({ A: 'a2', B: 'b1' });
  });

  it('should serve a project, its secret and its token made by the CLI while the server runs', async () => {
    const t = await setUp();
    server = t.server;
    expect((await t.pull()).status).toBe(200); // the server has read (and cached) rows already
    const cli = (args: string[]) => runCli(args, { dataDir: server!.dataDir });
    const created = await cli(['project', 'create', 'later']);
    expect(created.code, created.stderr).toBe(0);
    const keyFile = path.join(tempDir(), 'k');
    fs.writeFileSync(keyFile, created.stdout);
    expect((await cli(['secret', 'set', 'later', 'prod', 'NEW', 'fresh', '--master-key-file', keyFile])).code).toBe(0);
    const token = (await cli(['token', 'create', 'later', 'prod', '--classic'])).stdout.trim();
    const pulled = await t.pull(created.stdout.trim(), token);
    expect(pulled.status).toBe(200);
    expect(pulled.json).toEqual({ project: 'later', environment: 'prod', secrets: { NEW: 'fresh' } });
  });

  it('should refuse a token at the very next pull once the CLI has revoked it, cached or not', async () => {
    const t = await setUp();
    server = t.server;
    for (let i = 0; i < 3; i++) expect((await t.pull()).status).toBe(200);
    const id = /^sfst_([0-9a-f]{16})_/.exec(t.token)![1]!;
    const revoked = await runCli(['token', 'revoke', id], { dataDir: server.dataDir });
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await t.pull();
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe('invalid_token');
  });

  it('should refuse the old master key at the next pull after a rotation by the CLI', async () => {
    const t = await setUp();
    server = t.server;
    expect((await t.pull()).status).toBe(200);
    const keyFile = path.join(tempDir(), 'k');
    fs.writeFileSync(keyFile, t.masterKey);
    const rotated = await runCli(['rotate', 'acme', '--reencrypt', '--master-key-file', keyFile], {
      dataDir: server.dataDir,
    });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await t.pull()).json.error.code).toBe('invalid_master_key');
    expect((await t.pull(rotated.stdout.trim())).json.secrets).toEqual({ A: 'a1', B: 'b1' });
  });

  it('should derive again after a seal and after the expiry', async () => {
    // The server's clock moves only when the test moves it: expiry without waiting for it.
    const clock = new FakeClock();
    const t = await setUp({ ADMIN_MASTER_KEY_EXPIRATION: '300' }, { now: clock.date });
    server = t.server;
    const root = await t.ctx.projects.byName('acme');
    await t.pull();
    const afterFirst = t.ctx.kdf.derivations;
    await t.ctx.keys.seal(root, actor);
    expect((await t.pull()).json.secrets).toEqual({ A: 'a1', B: 'b1' });
    expect(t.ctx.kdf.derivations).toBe(afterFirst + 1);
    clock.advance(299_999);
    expect((await t.pull()).json.secrets).toEqual({ A: 'a1', B: 'b1' });
    expect(t.ctx.kdf.derivations).toBe(afterFirst + 1);
    clock.advance(1);
    expect((await t.pull()).json.secrets).toEqual({ A: 'a1', B: 'b1' });
    expect(t.ctx.kdf.derivations).toBe(afterFirst + 2);
  });

  it('should answer 429 with Retry-After after too many wrong master keys for one token, and only that token', async () => {
    const t = await setUp({ MASTER_KEY_ATTEMPTS_PER_MINUTE: '5' });
    server = t.server;
    const wrong = 'sfmk_' + 'W'.repeat(43);
    for (let i = 0; i < 5; i++) expect((await t.pull(wrong)).status).toBe(401);
    const limited = await t.pull(wrong);
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // An uncached right key waits too: the limit exists to stop guessing.
    expect((await t.pull()).status).toBe(429);

    const other = (await t.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor)).token;
    expect((await t.pull(wrong, other)).status).toBe(401);
    expect((await t.pull(t.masterKey, other)).status).toBe(200);
  });

  it('should keep concurrent wrong guesses within the limit', async () => {
    const t = await setUp({ MASTER_KEY_ATTEMPTS_PER_MINUTE: '5' });
    server = t.server;
    const start = t.ctx.kdf.derivations;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => t.pull(`sfmk_${String(i).padStart(43, 'G')}`)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
    expect(t.ctx.kdf.derivations - start).toBe(5);
  });

  it('should limit API requests per IP', async () => {
    const t = await setUp({ API_RATE_LIMIT_PER_MINUTE: '10' });
    server = t.server;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await t.pull()).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    const limited = await t.pull();
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
