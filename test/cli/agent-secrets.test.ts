import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { FormClient } from '../helpers/form-client.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Every request the server received through the proxy: method, path, headers and body, as bytes. */
interface Recorded {
  readonly requests: Buffer[];
  readonly url: string;
  close(): void;
}

/** A proxy in front of the server that keeps a copy of everything sent to it. */
async function recordingProxy(target: string): Promise<Recorded> {
  const requests: Buffer[] = [];
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push(Buffer.concat([Buffer.from(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n`), body]));
      const forward = http.request(
        `${target}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => proxy.close(),
  };
}

/** `secretsfly agent secrets …` on an app host, and `run` merging what it holds (issue 16). */
describe('host-held secrets on the agent', () => {
  let server: TestServer;
  let proxy: Recorded;
  let env: Record<string, string>;
  let masterKey: string;
  const VALUE = 'hunter2-host-only-\u00e9-value';

  beforeAll(async () => {
    server = await startTestServer();
    proxy = await recordingProxy(server.url);
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'app-web', parent: 'app' }, actor);
    const access = () => ({ masterKey: masterKeyBytes(masterKey) });
    const set = (project: string, key: string, value: string) =>
      server.ctx.secrets.set({ project, environment: 'prod', key, value }, access(), actor);
    await set('app', 'SHARED', 'from-the-server');
    await set('app-web', 'WEB_ONLY', 'server-held');
    const { token } = await server.ctx.tokens.create(
      { project: 'app-web', environment: 'prod', access: 'read_write', keyed: access() },
      actor,
    );
    env = {
      SECRETSFLY_URL: proxy.url,
      SECRETSFLY_TOKEN: token,
      SECRETSFLY_STATE_DIR: tempDir(),
      AGENT_DATA_DIR: path.join(tempDir(), 'agent'),
      AGENT_NAME: 'web-1',
    };
  });
  afterAll(async () => {
    proxy.close();
    await server.close();
  });

  const agent = (args: string[], input?: string, extra: Record<string, string> = {}) =>
    runCli(['agent', ...args], { dataDir: '', env: { ...env, ...extra }, ...(input !== undefined && { input }) });

  it('should keep values on the host, send the server titles only, and list, test and remove them', async () => {
    const added = await agent(['secrets', 'add', 'DB_PASSWORD'], `${VALUE}\n`);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain('held on host web-1');
    expect((await agent(['secrets', 'add', 'TLS_KEY', '--type', 'certificate'], 'pem')).code).toBe(0);

    const dir = env.AGENT_DATA_DIR!;
    expect(fs.statSync(path.join(dir, 'agent.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'secrets.enc')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, 'secrets.enc')).includes(Buffer.from('hunter2'))).toBe(false);

    const listed = await agent(['secrets', 'list', '--json']);
    expect(JSON.parse(listed.stdout).map((s: any) => [s.name, s.type, s.project, s.environment])).toEqual([
      ['DB_PASSWORD', 'generic', 'app-web', 'prod'],
      ['TLS_KEY', 'certificate', 'app-web', 'prod'],
    ]);
    expect(listed.stdout).not.toContain('hunter2');

    const onServer = await call(server, '/api/v1/host-held', { token: env.SECRETSFLY_TOKEN });
    expect(onServer.json.secrets.map((s: any) => [s.name, s.held_on_host])).toEqual([
      ['DB_PASSWORD', 'web-1'],
      ['TLS_KEY', 'web-1'],
    ]);

    // The server-side `secret list` marks them beside the server's own keys.
    const serverList = await runCli(['secret', 'list', 'app-web', 'prod'], { dataDir: server.dataDir });
    expect(serverList.stdout).toMatch(/DB_PASSWORD\s+generic\s+-\s+held on host web-1/);
    expect(serverList.stdout).toMatch(/WEB_ONLY\s+generic\s+1\s+app-web/);
    // And the admin UI's project page, with no edit or delete action for them.
    await server.ctx.users.create('admin', 'a long admin password', actor);
    const admin = new FormClient(server.url);
    await admin.login('admin', 'a long admin password');
    const page = await admin.get('/projects/app-web/envs/prod');
    const heldTable = page.text.slice(page.text.indexOf('Held on hosts'));
    expect(heldTable).toMatch(/<code>DB_PASSWORD<\/code>[\s\S]*held on host web-1/);
    expect(heldTable.slice(0, heldTable.indexOf('</table>'))).not.toMatch(/delete|Update/);

    const tested = await agent(['secrets', 'test']);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/DB_PASSWORD\s+ok/);
    expect((await agent(['secrets', 'test', 'NOT_HERE'])).code).toBe(1);

    const removed = await agent(['secrets', 'remove', 'TLS_KEY']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await call(server, '/api/v1/host-held', { token: env.SECRETSFLY_TOKEN })).json.secrets).toHaveLength(1);
    expect((await agent(['secrets', 'remove', 'TLS_KEY'])).code).toBe(1);
    expect((await agent(['sync'])).code).toBe(0);

    // Everything the server received, every header and body: no byte of a value.
    const everything = Buffer.concat(proxy.requests);
    expect(proxy.requests.length).toBeGreaterThan(5);
    expect(everything.includes(Buffer.from(VALUE))).toBe(false);
    expect(everything.includes(Buffer.from('hunter2'))).toBe(false);
    expect(everything.includes(Buffer.from('pem'))).toBe(false);
  });

  it('should refuse a name the server holds, and change nothing on the host', async () => {
    const file = path.join(env.AGENT_DATA_DIR!, 'secrets.enc');
    const before = fs.readFileSync(file);
    const refused = await agent(['secrets', 'add', 'WEB_ONLY'], 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('WEB_ONLY');
    expect(refused.stderr).toContain('server-held');
    expect(fs.readFileSync(file)).toEqual(before);
  });

  it('should merge host-held values into run, the host winning a clash said by name only', async () => {
    expect((await agent(['secrets', 'add', 'SHARED'], 'host-wins-value')).code).toBe(0);
    const show = `process.stdout.write(JSON.stringify({ db: process.env.DB_PASSWORD, shared: process.env.SHARED, web: process.env.WEB_ONLY }))`;
    const result = await runCli(['run', '--', process.execPath, '-e', show], { dataDir: '', env });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ db: VALUE, shared: 'host-wins-value', web: 'server-held' });
    expect(result.stderr).toContain('SHARED is held on this host and also pulled from the server');
    expect(result.stderr).not.toContain('host-wins-value');
    expect(result.stderr).not.toContain('from-the-server');
    const only = await runCli(['run', '--only', 'DB_PASSWORD', '--', process.execPath, '-e', show], {
      dataDir: '',
      env,
    });
    expect(JSON.parse(only.stdout)).toEqual({ db: VALUE });

    // A typed secret on the server whose variable the host holds: the host still wins, said by name.
    await server.ctx.secrets.set(
      {
        project: 'app-web',
        environment: 'prod',
        key: 'DB',
        value: '',
        typed: { type: 'credential', fields: { username: 'server-user', password: 'server-password' } },
      },
      { masterKey: masterKeyBytes(masterKey) },
      actor,
    );
    const typed = await runCli(
      [
        'run',
        '--',
        process.execPath,
        '-e',
        'process.stdout.write(JSON.stringify([process.env.DB_USERNAME, process.env.DB_PASSWORD]))',
      ],
      { dataDir: '', env },
    );
    expect(typed.code, typed.stderr).toBe(0);
    expect(JSON.parse(typed.stdout)).toEqual(['server-user', VALUE]);
    expect(typed.stderr).toContain(
      "DB_PASSWORD is held on this host and also set from the server: the host's value is used",
    );
    expect(typed.stderr).not.toContain('server-password');
  });

  it('should refuse a server write of a host-held name with a 409 naming the host', async () => {
    const put = await call(server, '/api/v1/secrets/DB_PASSWORD', {
      method: 'PUT',
      token: env.SECRETSFLY_TOKEN,
      body: { value: 'x' },
    });
    expect([put.status, put.json.error.message]).toEqual([409, expect.stringContaining('held on host web-1')]);
  });

  it('should use AGENT_SECRET_KEY when set, and refuse a file that does not open with the key', async () => {
    const dir = path.join(tempDir(), 'agent');
    const key = 'ab'.repeat(32);
    const withKey = { AGENT_DATA_DIR: dir, AGENT_SECRET_KEY: key, AGENT_NAME: 'web-2' };
    expect((await agent(['secrets', 'add', 'OTHER'], 'v', withKey)).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'agent.key'))).toBe(false);
    const wrong = await agent(['secrets', 'list'], undefined, { ...withKey, AGENT_SECRET_KEY: 'cd'.repeat(32) });
    expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringContaining('does not open with this key')]);
    const malformed = await agent(['secrets', 'list'], undefined, { ...withKey, AGENT_SECRET_KEY: 'short' });
    expect([malformed.code, malformed.stderr]).toEqual([1, expect.stringContaining('AGENT_SECRET_KEY must be')]);
    expect((await agent(['secrets', 'remove', 'OTHER'], undefined, withKey)).code).toBe(0);
  });

  it('should refuse a store or key file that others may read, in one line, changing nothing', async () => {
    const file = path.join(env.AGENT_DATA_DIR!, 'secrets.enc');
    const before = fs.readFileSync(file);
    fs.chmodSync(file, 0o644);
    try {
      const listed = await agent(['secrets', 'list']);
      expect(listed.code).toBe(1);
      expect(listed.stderr.trim().split('\n')).toHaveLength(1);
      expect(listed.stderr).toContain(
        `${file} can be read or changed by others (mode 0644): refusing it; run chmod 600`,
      );
      expect(fs.readFileSync(file)).toEqual(before);
    } finally {
      fs.chmodSync(file, 0o600);
    }
  });

  it('should take --agent at any level, over AGENT_NAME', async () => {
    const dir = { AGENT_DATA_DIR: path.join(tempDir(), 'agent') };
    expect(
      (
        await runCli(['agent', '--agent', 'web-8', 'secrets', 'add', 'A8'], {
          dataDir: '',
          env: { ...env, ...dir },
          input: 'v',
        })
      ).code,
    ).toBe(0);
    const leaf = await runCli(['agent', 'secrets', 'add', 'A9', '--agent', 'web-9'], {
      dataDir: '',
      env: { ...env, ...dir },
      input: 'v',
    });
    expect(leaf.code, leaf.stderr).toBe(0);
    const listed = await call(server, '/api/v1/host-held', { token: env.SECRETSFLY_TOKEN });
    expect(
      listed.json.secrets.filter((s: any) => s.name.startsWith('A')).map((s: any) => [s.name, s.held_on_host]),
    ).toEqual([
      // One file is one agent: synced under a new name, its titles move to it.
      ['A8', 'web-9'],
      ['A9', 'web-9'],
    ]);
    const bad = await runCli(['agent', 'sync', '--agent', 'no spaces'], { dataDir: '', env: { ...env, ...dir } });
    expect(bad.code).toBe(2);
  });
});
