import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `secretsfly login` once, then `run` and `pull` with no variables (issue 15, "Configured once"):
 * the real CLI as a child process against a real server, with a private XDG_CONFIG_HOME.
 */
describe('login, then run and pull with nothing set', () => {
  let server: TestServer;
  let token: string;
  let otherToken: string;
  let config: string;
  let repo: string;

  beforeAll(async () => {
    server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'API_KEY', value: 'prod-key' },
      access(),
      actor,
    );
    await server.ctx.secrets.set(
      { project: 'app', environment: 'staging', key: 'API_KEY', value: 'staging-key' },
      access(),
      actor,
    );
    const scope = (environment: string) => ({ project: 'app', environment, access: 'read' as const, keyed: access() });
    token = (await server.ctx.tokens.create(scope('prod'), actor)).token;
    otherToken = (await server.ctx.tokens.create(scope('staging'), actor)).token;
    config = tempDir('secretsfly-config-');
    repo = tempDir('secretsfly-repo-');
    fs.mkdirSync(path.join(repo, 'services', 'api'), { recursive: true });
  });
  afterAll(() => server.close());

  /** The CLI with only what a developer's shell has: no SECRETSFLY_ variable unless given. */
  const cli = (args: string[], options: { cwd?: string; input?: string; env?: Record<string, string> } = {}) =>
    runCli(args, {
      dataDir: '',
      cwd: options.cwd ?? repo,
      ...(options.input !== undefined && { input: options.input }),
      env: { XDG_CONFIG_HOME: config, SECRETSFLY_STATE_DIR: tempDir(), ...options.env },
    });
  const logins = () => path.join(config, 'secretsfly', 'logins.json');

  it('should say what to do when nothing is configured', async () => {
    const result = await cli(['pull']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain("run 'secretsfly login' here");
  });

  it('should save the server and token privately, and use them in every folder below', async () => {
    const login = await cli(['login', '--url', server.url], { input: `${token}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`logged in: ${fs.realpathSync(repo)}`);
    expect(fs.statSync(logins()).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(logins())).mode & 0o777).toBe(0o700);
    // Never inside the repository.
    expect(fs.readdirSync(repo)).toEqual(['services']);

    const pulled = await cli(['pull'], { cwd: path.join(repo, 'services', 'api') });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout)).toEqual({ API_KEY: 'prod-key' });
    const ran = await cli(['run', '--', process.execPath, '-e', 'process.stdout.write(process.env.API_KEY)']);
    expect(ran.stdout).toBe('prod-key');
  });

  it('should let SECRETSFLY_TOKEN win over the login, and the nearest login win over an outer one', async () => {
    const viaEnv = await cli(['pull'], { env: { SECRETSFLY_TOKEN: otherToken } });
    expect(JSON.parse(viaEnv.stdout)).toEqual({ API_KEY: 'staging-key' });
    const inner = path.join(repo, 'services');
    expect((await cli(['login', '--url', server.url], { cwd: inner, input: otherToken })).code).toBe(0);
    expect(JSON.parse((await cli(['pull'], { cwd: path.join(inner, 'api') })).stdout)).toEqual({
      API_KEY: 'staging-key',
    });
    expect(JSON.parse((await cli(['pull'])).stdout)).toEqual({ API_KEY: 'prod-key' });
    expect((await cli(['logout'], { cwd: inner })).code).toBe(0);
    expect(JSON.parse((await cli(['pull'], { cwd: inner })).stdout)).toEqual({ API_KEY: 'prod-key' });
  });

  it('should never send a saved token to another server named by SECRETSFLY_URL', async () => {
    const result = await cli(['pull'], { env: { SECRETSFLY_URL: 'http://127.0.0.1:9' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not the server the login of');
  });

  it('should not be disturbed by the app settings of the folder it runs in', async () => {
    const result = await cli(['pull'], { env: { LOG_LEVEL: 'trace', PORT: '3000', DATA_DIR: '/srv/nowhere' } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ API_KEY: 'prod-key' });
  });

  it('should refuse a login file others can read, or that is not JSON, in one line', async () => {
    fs.chmodSync(logins(), 0o644);
    const open = await cli(['pull']);
    expect([open.code, open.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(open.stderr).toContain(`chmod 600 ${logins()}`);
    fs.chmodSync(logins(), 0o600);
    const saved = fs.readFileSync(logins());
    fs.writeFileSync(logins(), '{"version":1,"logins":');
    const broken = await cli(['pull']);
    expect([broken.code, broken.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(broken.stderr).toContain('is not valid JSON');
    fs.writeFileSync(logins(), saved);
  });

  it('should refuse a URL without its scheme and a token given in a way it is not, each in one line', async () => {
    const noScheme = await cli(['pull'], { env: { SECRETSFLY_URL: 'secrets.example.com', SECRETSFLY_TOKEN: token } });
    expect(noScheme.code).toBe(1);
    expect(noScheme.stderr).toBe(
      "secretsfly: SECRETSFLY_URL must be the server's address with its scheme, e.g. https://secrets.example.com\n",
    );
    const notAToken = await cli(['login', '--url', server.url], { input: 'hunter2' });
    expect(notAToken.code).toBe(1);
    expect(notAToken.stderr).not.toContain('hunter2');
    const down = await cli(['login', '--url', 'http://127.0.0.1:9'], { input: token });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("run 'secretsfly login' again");
  });

  it('should say what to do about a revoked token', async () => {
    const revokedToken = (
      await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor)
    ).token;
    const id = revokedToken.split('_')[1]!;
    await server.ctx.tokens.revoke(id, actor);
    const result = await cli(['pull'], {
      env: { SECRETSFLY_TOKEN: revokedToken, SECRETSFLY_MASTER_KEY: 'sfmk_' + 'x'.repeat(43) },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('revoked, expired or mistyped');
  });
});
