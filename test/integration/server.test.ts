import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { FormClient } from '../helpers/form-client.js';
import { call, spawnServe, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('first-run setup', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('should print a one-time link that creates the first admin, then answer 410 Gone', async () => {
    server = await startTestServer();
    const line = server.announced.find((l) => l.includes('/setup?token='))!;
    expect(line).toContain(`${server.url}/setup?token=`);
    const token = /token=([A-Za-z0-9_-]+)/.exec(line)![1]!;
    const browser = new FormClient(server.url);

    expect((await browser.get('/setup?token=wrong')).status).toBe(404);
    const page = await browser.get(`/setup?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    // On PostgreSQL the form names the instance that printed the link (test/multi/setup-link.test.ts).
    expect(page.text).toMatch(/<form method="post" action="\/setup(\?instance=[0-9a-f-]{36})?">/);

    const short = await browser.post('/setup', { token, username: 'admin', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('12 to 1024 characters');
    expect(short.text).not.toContain('value="short"');

    const created = await browser.post('/setup', { token, username: 'admin', password: 'a long enough password' });
    expect(created.status).toBe(303);
    expect(created.location).toBe('/login?setup=done');
    // No session for a visitor who has not signed in: the notice travels in the URL.
    expect(created.headers.getSetCookie().some((cookie) => cookie.startsWith('sf.sid='))).toBe(false);
    expect((await browser.get('/login?setup=done')).text).toContain('The first admin is created');
    expect(await server.ctx.users.verify('admin', 'a long enough password')).toBeDefined();

    expect((await browser.get(`/setup?token=${token}`)).status).toBe(410);
    expect(
      (await browser.post('/setup', { token, username: 'second', password: 'another long password' })).status,
    ).toBe(410);
    expect(await server.ctx.users.count()).toBe(1);
  });

  it('should print no link once an admin exists', async () => {
    const dataDir = tempDir();
    await runCli(['user', 'create', 'admin'], { dataDir, env: { SECRETSFLY_PASSWORD: 'a long enough password' } });
    const { child, output } = await spawnServe(dataDir);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(output()).not.toContain('/setup?token=');
  });

  it('should answer 404 on every UI route with UI_ENABLED=false while the API works', async () => {
    server = await startTestServer({ UI_ENABLED: 'false' });
    expect(server.announced.join('\n')).toContain('secretsfly user create');
    for (const path of ['/setup', '/', '/login', '/projects/new', '/audit', '/static/app.css']) {
      expect((await call(server, path)).status, path).toBe(404);
    }
    const masterKey = (await server.ctx.projects.create({ name: 'api-only' }, actor)).masterKey!;
    const { token } = await server.ctx.tokens.create(
      { project: 'api-only', environment: 'prod', access: 'read' },
      actor,
    );
    expect((await call(server, '/api/v1/secrets', { token, masterKey })).status).toBe(200);
  });
});

describe('secretsfly serve', () => {
  it('should finish an in-flight request, seal, close the database and exit 0 on SIGTERM', async () => {
    const dataDir = tempDir();
    const keyFile = path.join(tempDir(), 'k');
    // At the real KDF cost: the request below must still be deriving when SIGTERM arrives.
    const created = await runCli(['project', 'create', 'acme'], { dataDir, env: { SECRETSFLY_TEST_KDF: undefined } });
    fs.writeFileSync(keyFile, created.stdout);
    await runCli(['secret', 'set', 'acme', 'prod', 'K', 'still-served', '--master-key-file', keyFile], { dataDir });
    const token = (await runCli(['token', 'create', 'acme', 'prod', '--classic'], { dataDir })).stdout.trim();
    const { child, url, output } = await spawnServe(dataDir);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    // The first pull derives at the real scrypt cost (hundreds of ms): stop the server meanwhile.
    const inFlight = call({ url }, '/api/v1/secrets', { token, masterKey: fs.readFileSync(keyFile, 'utf8').trim() });
    await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.json.secrets).toEqual({ K: 'still-served' });
    expect(await exited).toBe(0);
    expect(output()).toContain('every project sealed, database closed');
    await expect(fetch(`${url}/api/v1/status`)).rejects.toThrow();
  });

  it('should refuse to start on a malformed variable, naming it', async () => {
    const result = await runCli(['serve'], {
      dataDir: tempDir(),
      env: { PORT: '0', ADMIN_MASTER_KEY_EXPIRATION: 'abc' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('ADMIN_MASTER_KEY_EXPIRATION');
  });
});
