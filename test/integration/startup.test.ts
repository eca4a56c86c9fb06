import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { engineEnv, ROOT, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const setupToken = (server: TestServer) => /token=([A-Za-z0-9_-]+)/.exec(server.announced.join('\n'))![1]!;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

describe('starting the server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('should say a used setup link was used, and where to sign in', async () => {
    server = await startTestServer();
    const token = setupToken(server);
    const browser = new FormClient(server.url);
    await browser.get(`/setup?token=${token}`);
    expect(
      (await browser.post('/setup', { token, username: 'admin', password: 'a long enough password' })).status,
    ).toBe(303);

    for (const reopened of [
      await browser.get(`/setup?token=${token}`),
      await new FormClient(server.url).get('/setup'),
    ]) {
      expect(reopened.status).toBe(410);
      expect(reopened.text).toContain('This setup link has been used');
      expect(reopened.text).toContain('href="/login"');
    }
  });

  it('should print the setup link with PUBLIC_URL when it is set', async () => {
    server = await startTestServer({ PUBLIC_URL: 'https://secrets.example.com/' });
    const line = server.announced.find((l) => l.includes('/setup?token='))!;
    // With several instances (PostgreSQL) the link also names the instance that printed it.
    expect(line).toMatch(
      /^No admin yet\. .*: https:\/\/secrets\.example\.com\/setup\?token=[A-Za-z0-9_-]+(&instance=[0-9a-f-]{36})?$/,
    );
  });

  it('should never print a wildcard address as the setup link, and say PUBLIC_URL changes it', async () => {
    server = await startTestServer({ HOST: '0.0.0.0' });
    const line = server.announced.find((l) => l.includes('/setup?token='))!;
    expect(line).not.toContain('0.0.0.0');
    expect(line).toMatch(/http:\/\/127\.0\.0\.1:\d+\/setup\?token=/);
    expect(line).toContain('PUBLIC_URL');
  });

  it('should say which port is taken and that PORT changes it', async () => {
    server = await startTestServer();
    const port = new URL(server.url).port;
    const second = await runCli(['serve'], { dataDir: tempDir(), env: { PORT: port } });
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(second.stderr).toContain('set PORT');
    expect(second.stderr).not.toContain('unexpected error');
  });

  it('should stop the server and free its port when npm start gets SIGTERM', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const engine = await engineEnv(dataDir);
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port), ...engine },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('No admin yet')) resolve();
      };
      npm.stdout.on('data', onData);
      npm.stderr.on('data', onData);
      npm.on('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
    expect(await portIsFree(port)).toBe(false);
    // 'close': npm has exited and so has every process holding its output (the server).
    const closed = new Promise((resolve) => npm.on('close', resolve));
    npm.kill('SIGTERM');
    await closed;
    expect(await portIsFree(port)).toBe(true);
    expect(output).toContain('every project sealed');
  });
});
