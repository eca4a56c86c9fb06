import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, BIN, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe.each(['classic', 'keyed'] as const)('pull and run against a real server, with a %s token', (kind) => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'DATABASE_URL', value: 'postgres://db/app' },
      access,
      actor,
    );
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'TRICKY', value: `$HOME; "quoted" 'single'\nline2` },
      access,
      actor,
    );
    const keyed = kind === 'keyed' ? { masterKey: new TextEncoder().encode(masterKey) } : undefined;
    const { token } = await server.ctx.tokens.create(
      { project: 'app', environment: 'prod', access: 'read', keyed },
      actor,
    );
    // A keyed token pulls zero-knowledge and needs no master key: none is given to prove it.
    env = {
      SECRETSFLY_URL: server.url,
      SECRETSFLY_TOKEN: token,
      SECRETSFLY_STATE_DIR: tempDir(),
      ...(kind === 'classic' && { SECRETSFLY_MASTER_KEY: masterKey }),
    };
  });
  afterAll(() => server.close());

  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runCli(args, { dataDir: tempDir(), env: { ...env, ...extra } });

  it('should pull as JSON, dotenv and shell', async () => {
    expect(JSON.parse((await cli(['pull'])).stdout)).toEqual({
      DATABASE_URL: 'postgres://db/app',
      TRICKY: `$HOME; "quoted" 'single'\nline2`,
    });
    expect(parse((await cli(['pull', '--format', 'dotenv'])).stdout)).toMatchObject({
      TRICKY: `$HOME; "quoted" 'single'\nline2`,
    });
    expect((await cli(['pull', '--format', 'shell'])).stdout).toContain("export DATABASE_URL='postgres://db/app'");
  });

  it('should run a command directly with the secrets added and the SECRETSFLY_ variables removed', async () => {
    const script = `process.stdout.write(JSON.stringify({ argv: process.argv.slice(1), db: process.env.DATABASE_URL, tricky: process.env.TRICKY,
      leaked: Object.keys(process.env).filter((k) => k.startsWith('SECRETSFLY_')) })); process.exit(7)`;
    const result = await cli(['run', '--', process.execPath, '-e', script, '$HOME', 'a;b', '--flag']);
    expect(result.code).toBe(7);
    expect(JSON.parse(result.stdout)).toEqual({
      argv: ['$HOME', 'a;b', '--flag'],
      db: 'postgres://db/app',
      tricky: `$HOME; "quoted" 'single'\nline2`,
      leaked: [],
    });
  });

  it('should forward signals to the child and pass its exit code through', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--',
        process.execPath,
        '-e',
        "process.on('SIGTERM', () => process.exit(42)); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()),
    );
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(42);
  });

  it('should print one line, exit 1 and not start the child when the server refuses', async () => {
    const marker = path.join(tempDir(), 'started');
    const result = await cli(
      ['run', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`],
      // Classic: a wrong master key. Keyed: the token's id with another secret.
      kind === 'classic'
        ? { SECRETSFLY_MASTER_KEY: 'sfmk_' + 'X'.repeat(43) }
        : { SECRETSFLY_TOKEN: `${env.SECRETSFLY_TOKEN!.slice(0, 25)}${'A'.repeat(43)}` },
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      // One line that also says what to do next.
      kind === 'classic'
        ? 'secretsfly: the server refused: invalid master key (invalid_master_key, HTTP 401): check SECRETSFLY_MASTER_KEY or --master-key-file (the key of the root project, as printed when it was created or last rotated)'
        : "secretsfly: the server refused: invalid or expired service token (invalid_token, HTTP 401): the token is revoked, expired or mistyped: get a new one (secretsfly token create) and run 'secretsfly login' again",
    ]);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('should fail clearly without a server, a URL, or a command', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const down = await cli(['pull'], { SECRETSFLY_URL: `http://127.0.0.1:${closed}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`secretsfly: cannot reach http://127.0.0.1:${closed}: ECONNREFUSED\n`);
    expect((await runCli(['pull'], { dataDir: tempDir(), env: {} })).stderr).toContain(
      "no server and no token for this folder: run 'secretsfly login' here (or set SECRETSFLY_URL and SECRETSFLY_TOKEN)",
    );
    expect((await cli(['run'])).code).toBe(2);
    const missing = await cli(['run', '--', 'no-such-command-here']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('command not found: no-such-command-here');
  });
});
