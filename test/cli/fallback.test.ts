import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import httpProxy from 'http-proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyedToken } from '../../src/crypto/scoped-keys.js';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `run` with the server unreachable or failing: the sealed copy of the last pull, ciphertext only
 * (issue 15, "--fallback"). The real CLI against a real server that then stops.
 */
describe('run falls back on the sealed copy of its last pull', () => {
  let server: TestServer;
  let url: string;
  let token: string;
  let classic: string;
  let masterKey: string;
  let config: string;
  const VALUE = 'sk_live_fallback_value_0123456789';

  beforeAll(async () => {
    server = await startTestServer();
    url = server.url;
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'API_KEY', value: VALUE },
      access(),
      actor,
    );
    token = (
      await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read', keyed: access() }, actor)
    ).token;
    classic = (await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor)).token;
    config = tempDir('secretsfly-config-');
  });
  afterAll(() => server.close());

  const run = (env: Record<string, string>, ...flags: string[]) =>
    runCli(['run', ...flags, '--', process.execPath, '-e', 'process.stdout.write(process.env.API_KEY ?? "none")'], {
      dataDir: '',
      env: { XDG_CONFIG_HOME: config, SECRETSFLY_STATE_DIR: path.join(config, 'state'), ...env },
    });
  const copies = () => {
    const folder = path.join(config, 'secretsfly', 'fallback');
    return fs.existsSync(folder) ? fs.readdirSync(folder).map((name) => path.join(folder, name)) : [];
  };

  it('should keep a private copy that holds no value and no key', async () => {
    const live = await run({ SECRETSFLY_URL: url, SECRETSFLY_TOKEN: token });
    expect([live.code, live.stdout]).toEqual([0, VALUE]);
    const [copy] = copies();
    expect(fs.statSync(copy!).mode & 0o777).toBe(0o600);
    const bytes = fs.readFileSync(copy!);
    const keys = parseKeyedToken(token)!;
    const secret = token.split('_').at(-1)!;
    for (const forbidden of [
      Buffer.from(VALUE),
      Buffer.from(secret),
      Buffer.from(masterKey),
      Buffer.from(Buffer.from(keys.wrappingKey).toString('hex')),
      Buffer.from(Buffer.from(keys.wrappingKey).toString('base64')),
      Buffer.from(Buffer.from(keys.wrappingKey).toString('base64url')),
    ]) {
      expect(bytes.includes(forbidden)).toBe(false);
    }
  });

  it('should keep no copy of a classic pull, whose answer is plaintext', async () => {
    const before = copies().length;
    const live = await run({ SECRETSFLY_URL: url, SECRETSFLY_TOKEN: classic, SECRETSFLY_MASTER_KEY: masterKey });
    expect(live.stdout).toBe(VALUE);
    expect(copies()).toHaveLength(before);
  });

  it('should use the copy when the server fails (5xx), saying so, and refuse a copy made for another server', async () => {
    // A balancer in front of the server: it passes requests on, then answers 502 as if the server failed.
    let failing = false;
    const proxy = httpProxy.createProxyServer({ target: url });
    const front = http.createServer((req, res) =>
      failing ? res.writeHead(502).end('bad gateway') : proxy.web(req, res),
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const env = { SECRETSFLY_URL: frontUrl, SECRETSFLY_TOKEN: token };
      expect((await run(env)).stdout).toBe(VALUE);
      failing = true;
      const result = await run(env);
      expect([result.code, result.stdout], result.stderr).toEqual([0, VALUE]);
      expect(result.stderr).toContain('is unreachable or failing: using the sealed copy');
      // The copy kept for the server itself is not the balancer's: named explicitly, it is refused.
      const other = copies().find((file) => !fs.readFileSync(file, 'utf8').includes(frontUrl))!;
      const refused = await run(env, '--fallback', other);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('is for another server or token');
    } finally {
      front.close();
      proxy.close();
    }
  });

  it('should use the copy when the server is unreachable, and refuse one older than --fallback-max-age', async () => {
    await server.close();
    const down = await run({ SECRETSFLY_URL: url, SECRETSFLY_TOKEN: token });
    expect([down.code, down.stdout], down.stderr).toEqual([0, VALUE]);
    expect(down.stderr).toMatch(
      /warning: http:\/\/127\.0\.0\.1:\d+ is unreachable or failing: using the sealed copy of the pull \d+ s ago/,
    );
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const stale = await run({ SECRETSFLY_URL: url, SECRETSFLY_TOKEN: token }, '--fallback-max-age', '1s');
    expect([stale.code, stale.stdout]).toEqual([1, '']);
    expect(stale.stderr).toContain('older than --fallback-max-age allows');
    const pulled = await runCli(['pull'], {
      dataDir: '',
      env: { XDG_CONFIG_HOME: config, SECRETSFLY_URL: url, SECRETSFLY_TOKEN: token },
    });
    expect([pulled.code, pulled.stdout]).toEqual([1, '']);
    expect(pulled.stderr).toContain('cannot reach');
  });
});

describe('a refused token never falls back', () => {
  it('should forget the copy when the server refuses the token, so a revoked token stops even when the server is down', async () => {
    const server = await startTestServer();
    const config = tempDir('secretsfly-config-');
    try {
      const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
      const access = { masterKey: new TextEncoder().encode(masterKey) };
      const created = await server.ctx.tokens.create(
        { project: 'app', environment: 'prod', access: 'read', keyed: access },
        actor,
      );
      const env = { XDG_CONFIG_HOME: config, SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: created.token };
      const run = () =>
        runCli(['run', '--', process.execPath, '-e', 'process.stdout.write("started")'], { dataDir: '', env });
      expect((await run()).stdout).toBe('started');
      expect(fs.readdirSync(path.join(config, 'secretsfly', 'fallback'))).toHaveLength(1);
      await server.ctx.tokens.revoke(created.view.id, actor);
      const refused = await run();
      expect([refused.code, refused.stdout]).toEqual([1, '']);
      expect(refused.stderr).toContain('revoked, expired or mistyped');
      expect(fs.readdirSync(path.join(config, 'secretsfly', 'fallback'))).toHaveLength(0);
      await server.close();
      const down = await run();
      expect([down.code, down.stdout]).toEqual([1, '']);
      expect(down.stderr).toContain('no sealed copy');
    } finally {
      await server.close();
    }
  });
});
