import path from 'node:path';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * Secret references through the real CLI: written with the server-side `secret set`, read back raw
 * with `secret get --raw`, and resolved by every client pull: classic (`pull`, `run`), and
 * zero-knowledge, where the CLI resolves them itself, including from its sealed fallback copy.
 */
describe('secret references through the CLI', () => {
  let server: TestServer;
  let masterKey: string;
  let keyed: string;
  let classic: string;
  let config: string;

  const admin = (...args: string[]) =>
    runCli(args, { dataDir: server.dataDir, env: { SECRETSFLY_MASTER_KEY: masterKey } });
  const client = (token: string, args: string[], extra: Record<string, string> = {}) =>
    runCli(args, {
      dataDir: '',
      env: {
        SECRETSFLY_URL: server.url,
        SECRETSFLY_TOKEN: token,
        XDG_CONFIG_HOME: config,
        SECRETSFLY_STATE_DIR: path.join(config, 'state'),
        ...(token === classic && { SECRETSFLY_MASTER_KEY: masterKey }),
        ...extra,
      },
    });
  const printEnv = (keys: string[]) => [
    process.execPath,
    '-e',
    `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(keys)}.map((k) => [k, process.env[k]]))))`,
  ];

  const RESOLVED = { URL: 'postgres://api@db.internal/app', PRICE: 'costs ${AMOUNT}', DB_USER: 'api' };

  beforeAll(async () => {
    server = await startTestServer();
    config = tempDir('secretsfly-config-');
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'app-api', parent: 'app' }, actor);
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    keyed = (
      await server.ctx.tokens.create(
        { project: 'app-api', environment: 'prod', access: 'read', keyed: access() },
        actor,
      )
    ).token;
    classic = (await server.ctx.tokens.create({ project: 'app-api', environment: 'prod', access: 'read' }, actor))
      .token;
    for (const [project, key, value] of [
      ['app', 'DB_HOST', 'db.internal'],
      ['app', 'URL', 'postgres://${DB_USER}@${DB_HOST}/app'],
      ['app-api', 'DB_USER', 'api'],
      ['app-api', 'PRICE', 'costs $${AMOUNT}'],
    ]) {
      const set = await admin('secret', 'set', project!, 'prod', key!, value!);
      expect(set.code, set.stderr).toBe(0);
    }
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) await server?.close();
  });

  it('should print the value as written with --raw and resolved without', async () => {
    const raw = await admin('secret', 'get', 'app', 'prod', 'URL', '--raw');
    expect(raw.stdout).toBe('postgres://${DB_USER}@${DB_HOST}/app\n');
    const resolvedInRoot = await admin('secret', 'get', 'app', 'prod', 'URL');
    expect([resolvedInRoot.code, resolvedInRoot.stderr]).toEqual([
      1,
      expect.stringContaining('URL references ${DB_USER}, but DB_USER does not exist in app/prod'),
    ]);
    const resolved = await admin('secret', 'get', 'app-api', 'prod', 'URL');
    expect(resolved.stdout).toBe(`${RESOLVED.URL}\n`);
  });

  it('should resolve in pull and run, classic and zero-knowledge alike', async () => {
    for (const token of [classic, keyed]) {
      const json = await client(token, ['pull']);
      expect([json.code, json.stderr]).toEqual([0, '']);
      expect(JSON.parse(json.stdout)).toMatchObject(RESOLVED);
      const dotenv = await client(token, ['pull', '--format', 'dotenv']);
      expect(parse(dotenv.stdout)).toMatchObject(RESOLVED);
      const run = await client(token, ['run', '--', ...printEnv(Object.keys(RESOLVED))]);
      expect([run.code, run.stderr]).toEqual([0, '']);
      expect(JSON.parse(run.stdout)).toEqual(RESOLVED);
    }
  });

  it('should resolve from the sealed fallback copy too, and name a broken reference', async () => {
    const broken = await admin('secret', 'set', 'app-api', 'prod', 'LINK', '${staging.URL}');
    expect(broken.code).toBe(0);
    const zk = await client(keyed, ['run', '--', ...printEnv(['URL'])]);
    expect(zk.code).toBe(1);
    expect(zk.stderr).toContain(
      'LINK references ${staging.URL}, outside app-api/prod: a keyed token resolves references only within its own project and environment',
    );
    expect(zk.stdout).toBe('');
    const viaClassic = await client(classic, ['pull']);
    expect(viaClassic.code).toBe(1);
    expect(viaClassic.stderr).toContain('LINK references ${staging.URL}, but URL does not exist in app-api/staging');
    expect((await admin('secret', 'delete', 'app-api', 'prod', 'LINK')).code).toBe(0);

    // The server goes away: run resolves the references of its sealed copy itself.
    const live = await client(keyed, ['pull']);
    expect(live.code).toBe(0);
    await server.close();
    closed = true;
    const offline = await client(keyed, ['run', '--', ...printEnv(Object.keys(RESOLVED))]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stderr).toContain('using the sealed copy');
    expect(JSON.parse(offline.stdout)).toEqual(RESOLVED);
  });
});
