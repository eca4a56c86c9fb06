import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from '../helpers/postgres.js';
import { actor, readAllFiles, readAllStored, selectRows } from '../helpers/test-context.js';
import { FormClient } from '../helpers/form-client.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('admin web UI over HTTP', () => {
  let server: TestServer;
  let masterKey: string;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer({ NB_MINUTES_DECRYPTED_BEFORE_REDIRECT: '3' });
    await server.ctx.users.create('admin', password, actor);
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
  });
  afterAll(() => server.close());

  it('should forbid inline scripts and framing with its Content-Security-Policy', async () => {
    const csp = (await new FormClient(server.url).get('/login')).headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'self'");
  });

  it('should send every page to the login form without a session', async () => {
    const anonymous = new FormClient(server.url);
    for (const path of [
      '/',
      '/projects/new',
      '/projects/acme/envs/prod',
      '/projects/acme/envs/prod/reveal',
      '/environments',
      '/audit',
    ]) {
      const res = await anonymous.get(path);
      expect([res.status, res.location], path).toEqual([303, '/login']);
    }
  });

  it('should refuse a form without its CSRF token with 403, changing nothing', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    const before = (await server.ctx.projects.list()).length;
    const forged = await admin.post('/projects', { name: 'forged' }, { csrf: false });
    expect(forged.status).toBe(403);
    const wrong = await admin.post('/projects', { name: 'forged', _csrf: 'not-the-token' }, { csrf: false });
    expect(wrong.status).toBe(403);
    expect((await server.ctx.projects.list()).length).toBe(before);
    expect(
      (await new FormClient(server.url).post('/login', { username: 'admin', password }, { csrf: false })).status,
    ).toBe(403);
  });

  it('should set HttpOnly, SameSite=Strict session cookies, Secure behind an HTTPS proxy', async () => {
    const cookieOf = (browser: FormClient, name: string) =>
      browser.lastSetCookie.find((line) => line.startsWith(`${name}=`))!;
    const browser = new FormClient(server.url);
    await browser.get('/login');
    // Before sign-in only the login form's CSRF cookie is set; the session cookie comes with sign-in.
    expect(cookieOf(browser, 'sf.sid')).toBeUndefined();
    const csrfCookie = cookieOf(browser, 'sf.csrf');
    await browser.post('/login', { username: 'admin', password });
    for (const cookie of [csrfCookie, cookieOf(browser, 'sf.sid')]) {
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).not.toMatch(/Secure/);
    }

    const behindProxy = await startTestServer({ TRUST_PROXY: 'true' });
    try {
      await behindProxy.ctx.users.create('admin', password, actor);
      const https = { 'x-forwarded-proto': 'https' };
      const proxied = new FormClient(behindProxy.url);
      await proxied.get('/login', https);
      expect(cookieOf(proxied, 'sf.csrf')).toMatch(/; Secure/);
      await proxied.post('/login', { username: 'admin', password }, { headers: https });
      expect(cookieOf(proxied, 'sf.sid')).toMatch(/; Secure/);
    } finally {
      await behindProxy.close();
    }
  });

  it('should keep master keys and values out of the session store after an unseal and a decrypted view', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    await admin.get('/projects/acme/envs/prod');
    const unseal = await admin.post('/projects/acme/unseal', { masterKey, back: '/projects/acme/envs/prod' });
    expect(unseal.status).toBe(303);
    await admin.get('/projects/acme/envs/prod');
    await admin.post('/projects/acme/envs/prod/secrets', { key: 'SESSION_PROBE', value: 'v4lue-never-in-a-session' });
    const reveal = await admin.get('/projects/acme/envs/prod/reveal');
    expect(reveal.status).toBe(200);
    expect(reveal.text).toContain('v4lue-never-in-a-session');
    expect(reveal.headers.get('cache-control')).toBe('no-store');
    expect(reveal.text).toContain('<meta http-equiv="refresh" content="180;url&#x3D;/projects/acme/envs/prod">');

    // Sessions are stored: in sessions.db beside SQLite's file, in admin_sessions on PostgreSQL.
    if (!onPostgres) {
      const sessionFiles = readAllFiles(server.dataDir).filter(({ file }) => file.includes('sessions.db'));
      expect(sessionFiles.length).toBeGreaterThan(0);
    }
    for (const { file, content } of await readAllStored(server.dataDir)) {
      expect(content.includes(Buffer.from(masterKey)), file).toBe(false);
      expect(content.includes(Buffer.from('v4lue-never-in-a-session')), file).toBe(false);
    }
    // A session holds the user id, when it signed in, the CSRF token, flash messages and (several
    // instances) which instance holds its unseal: nothing else.
    const sessionsQuery = "select data as sess from admin_sessions where data <> ''";
    let rows: { sess: string }[];
    if (onPostgres) rows = await selectRows(server.dataDir, sessionsQuery);
    else {
      const { default: Sqlite } = await import('better-sqlite3');
      const db = new Sqlite(`${server.dataDir}/sessions.db`, { readonly: true });
      rows = db.prepare(sessionsQuery).all() as { sess: string }[];
      db.close();
    }
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(
        Object.keys(JSON.parse(row.sess)).every((name) =>
          ['cookie', 'csrfToken', 'userId', 'signedInAt', 'flash', 'unsealedOn'].includes(name),
        ),
      ).toBe(true);
    }
    await server.ctx.audit.flush();
    const actions = (await server.ctx.audit.list({ limit: 20 })).map((e) => e.action);
    expect(actions).toContain('secrets_revealed');
    expect(actions).toContain('unseal');
  });

  it('should show a master key and a token once, in the response that made them, never in the session', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    const created = await admin.submit('/projects/new', '/projects', {
      name: 'shown-once',
      parent: '',
      keyChoice: 'generate',
    });
    expect(created.status).toBe(200);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const key = /<code id="master-key">(sfmk_[A-Za-z0-9_-]{43})<\/code>/.exec(created.text)![1]!;
    const form = { environment: 'prod', access: 'read', expiresIn: '7d', tokenName: 'ci' };
    // Keyed by default, which needs the environment key: refused while the root is sealed.
    const sealed = await admin.submit('/projects/shown-once/tokens', '/projects/shown-once/tokens', form);
    expect([sealed.status, sealed.location]).toEqual([303, '/projects/shown-once/tokens']);
    expect((await admin.get('/projects/shown-once/tokens')).text).toContain('is sealed: unseal it');
    expect(await server.ctx.tokens.list('shown-once')).toEqual([]);
    const classic = await admin.submit('/projects/shown-once/tokens', '/projects/shown-once/tokens', {
      ...form,
      kind: 'classic',
    });
    expect(/<code id="token">(sfst_[0-9a-f]{16}_[^<]+)<\/code>/.exec(classic.text)).not.toBeNull();
    expect(classic.text).toContain('SECRETSFLY_MASTER_KEY=');
    expect((await admin.post('/projects/shown-once/unseal', { masterKey: key, back: '/' })).status).toBe(303);
    const token = await admin.submit('/projects/shown-once/tokens', '/projects/shown-once/tokens', form);
    const tokenValue = /<code id="token">(sfst_k1_[^<]+)<\/code>/.exec(token.text)![1]!;
    expect(token.text).not.toContain('SECRETSFLY_MASTER_KEY=');
    expect((await call(server, '/api/v1/secrets', { token: tokenValue })).json).toEqual({
      project: 'shown-once',
      environment: 'prod',
      secrets: {},
    });
    expect((await admin.get('/projects/shown-once/tokens')).text).not.toContain(tokenValue);
    for (const { file, content } of await readAllStored(server.dataDir)) {
      expect(content.includes(Buffer.from(key)), file).toBe(false);
      expect(content.includes(Buffer.from(tokenValue.slice(25))), file).toBe(false);
    }
  });

  it('should revoke a token from its page, after which the API refuses it at once', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    const { token, view } = await server.ctx.tokens.create(
      { project: 'acme-web', environment: 'prod', access: 'read', name: 'deploy-bot' },
      actor,
    );
    const pull = () => call(server, '/api/v1/secrets', { token, masterKey });
    expect((await pull()).status).toBe(200);
    const page = '/projects/acme-web/tokens';
    const revoked = await admin.submit(page, `/tokens/${view.id}/revoke`, { back: page });
    expect([revoked.status, revoked.location]).toEqual([303, page]);
    expect((await admin.get(page)).text).toContain('Token &quot;deploy-bot&quot; revoked');
    expect((await pull()).status).toBe(401);
  });

  it('should add an environment from the UI that every project then has', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    const created = await admin.submit('/environments', '/environments', { name: 'qa' });
    expect([created.status, created.location]).toEqual([303, '/environments']);
    expect((await admin.get('/environments')).text).toMatch(/<td[^>]*>qa<\/td>|>qa</);
    const token = (await server.ctx.tokens.create({ project: 'acme-web', environment: 'qa', access: 'read' }, actor))
      .token;
    expect((await call(server, '/api/v1/secrets', { token, masterKey })).json).toEqual({
      project: 'acme-web',
      environment: 'qa',
      secrets: {},
    });
    const refused = await admin.submit('/environments', '/environments', { name: 'Not Valid!' });
    expect(refused.status).toBe(303);
    expect((await server.ctx.environments.list()).map((e) => e.name)).not.toContain('Not Valid!');
  });

  it('should refuse a wrong master key with a message, audit it, and limit repeated tries', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    await admin.get('/projects/acme-web/envs/prod');
    const wrong = await admin.post('/projects/acme-web/unseal', {
      masterKey: 'sfmk_' + 'Q'.repeat(43),
      back: '/projects/acme-web/envs/prod',
    });
    // The unseal form again, with the reason and the status of a wrong master key.
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('invalid master key');
    expect(wrong.text).toContain('value="/projects/acme-web/envs/prod"');
    let last = wrong;
    for (let i = 0; i < 5; i++)
      last = await admin.post('/projects/acme-web/unseal', {
        masterKey: 'sfmk_' + 'Q'.repeat(43),
        back: '/projects/acme-web/envs/prod',
      });
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last.text).toContain('too many requests');
    await server.ctx.audit.flush();
    expect((await server.ctx.audit.list({ action: 'unseal_failed' })).length).toBeGreaterThanOrEqual(1);
  });

  it('should limit failed sign-ins per username and never echo the password', async () => {
    const attacker = new FormClient(server.url);
    let last;
    for (let i = 0; i < 6; i++)
      last = await attacker.submit('/login', '/login', { username: 'victim', password: `guess-number-${i}` });
    expect(last!.status).toBe(429);
    const failed = await new FormClient(server.url).submit('/login', '/login', {
      username: 'someone',
      password: 'echo-me-not-123',
    });
    expect(failed.status).toBe(401);
    expect(failed.text).not.toContain('echo-me-not-123');
    expect(failed.text).toContain('value="someone"');
  });
});
