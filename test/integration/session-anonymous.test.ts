import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { onPostgres } from '../helpers/postgres.js';
import { actor, selectRows } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Rows in every table of sessions.db, whatever the store calls them; on PostgreSQL, in admin_sessions. */
async function sessionRows(dataDir: string): Promise<number> {
  if (onPostgres) {
    return (await selectRows<{ n: number }>(dataDir, 'select count(*)::int as n from admin_sessions'))[0]!.n;
  }
  const db = new SqliteDatabase(path.join(dataDir, 'sessions.db'), { readonly: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
    return tables.reduce(
      (sum, { name }) => sum + (db.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n,
      0,
    );
  } finally {
    db.close();
  }
}

describe('what a stranger can do to the UI before signing in', () => {
  let server: TestServer;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    // Behind a proxy, so that each test can come from its own address (X-Forwarded-For).
    server = await startTestServer({ TRUST_PROXY: 'true', LOGIN_ATTEMPTS_PER_15_MINUTES: '1000' });
    await server.ctx.users.create('admin', password, actor);
    await server.ctx.projects.create({ name: 'acme' }, actor);
  });
  afterAll(() => server.close());

  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const actions = async (action: string) => {
    await server.ctx.audit.flush();
    return server.ctx.audit.list({ action, limit: 100 });
  };

  it('should store no session for 500 anonymous requests, 404s and forms included', async () => {
    const paths = ['/login', '/', '/no/such/page', '/projects/acme', '/setup?token=nope', '/static/nothing.css'];
    for (let i = 0; i < 500; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const response = await fetch(`${server.url}${paths[(i + j) % paths.length]}`, {
            headers: from('203.0.113.5'),
            redirect: 'manual',
          });
          await response.arrayBuffer();
        }),
      );
    }
    expect(await sessionRows(server.dataDir)).toBe(0);
  });

  it('should refuse a cross-site sign-in form, record it, and still sign in from this site', async () => {
    const victim = new FormClient(server.url);
    await victim.get('/login', from('198.51.100.7'));
    const crossSite = { ...from('198.51.100.7'), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
    // Even with the victim's own cookie and token (a browser would not send the cookie, SameSite=Strict).
    const forged = await victim.post('/login', { username: 'admin', password }, { headers: crossSite });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('sf.sid='))).toBe(false);
    const bare = new FormClient(server.url);
    const noCookie = await bare.post(
      '/login',
      { username: 'admin', password, _csrf: victim.lastCsrf },
      { csrf: false },
    );
    expect(noCookie.status).toBe(403);
    expect((await actions('csrf_refused')).some((event) => event.ip === '198.51.100.7')).toBe(true);

    const signIn = await victim.post('/login', { username: 'admin', password }, { headers: from('198.51.100.7') });
    expect([signIn.status, signIn.location]).toEqual([303, '/']);
  });

  it('should let the owner sign in from their own address while someone else guesses the password', async () => {
    const attacker = new FormClient(server.url);
    await attacker.get('/login', from('192.0.2.66'));
    for (let i = 0; i < 7; i++) {
      await attacker.post(
        '/login',
        { username: 'admin', password: `guess-${i}-wrong!` },
        { headers: from('192.0.2.66') },
      );
    }
    const locked = await attacker.post('/login', { username: 'admin', password }, { headers: from('192.0.2.66') });
    expect(locked.status).toBe(429);

    const owner = new FormClient(server.url);
    await owner.get('/login', from('192.0.2.10'));
    const signIn = await owner.post('/login', { username: 'admin', password }, { headers: from('192.0.2.10') });
    expect([signIn.status, signIn.location]).toEqual([303, '/']);
  });

  it('should record a setup attempt with a wrong token, and keep the token out of the log', async () => {
    const fresh = await startTestServer({ TRUST_PROXY: 'true' });
    try {
      const stranger = new FormClient(fresh.url);
      expect((await stranger.get('/setup?token=guessed-link', from('192.0.2.99'))).status).toBe(404);
      await stranger.get('/login', from('192.0.2.98'));
      const posted = await stranger.post(
        '/setup',
        { token: 'guessed-too', username: 'eve', password: 'a long enough password' },
        { headers: from('192.0.2.98') },
      );
      expect(posted.status).toBe(404);
      expect(await fresh.ctx.users.count()).toBe(0);
      await fresh.ctx.audit.flush();
      const events = await fresh.ctx.audit.list({ action: 'setup_failed', limit: 10 });
      expect(events.map((event) => event.ip).sort()).toEqual(['192.0.2.98', '192.0.2.99']);
      expect(JSON.stringify(events)).not.toMatch(/guessed/);
    } finally {
      await fresh.close();
    }
  });

  it('should answer an anonymous form body over 256 KiB with 413 and the page', async () => {
    const stranger = new FormClient(server.url);
    await stranger.get('/login');
    const huge = await stranger.post('/login', { username: 'admin', password: 'x'.repeat(300 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.text).toContain('Request body larger than 256 KiB');
  });

  it('should not let refused forms from many addresses fill the audit log', async () => {
    const forge = (ip: string) =>
      fetch(`${server.url}/login`, {
        method: 'POST',
        headers: { ...from(ip), 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
        body: 'username=admin&password=x',
      }).then((response) => response.status);
    // One IPv6 host rotating through its own /64, then 150 IPv4 addresses.
    for (let i = 0; i < 150; i++) expect(await forge(`2001:db8:0:1::${i.toString(16)}`)).toBe(403);
    for (let i = 0; i < 150; i++) expect(await forge(`192.0.2.${i}`)).toBe(403);
    await server.ctx.audit.flush();
    const refused = await server.ctx.audit.list({ action: 'csrf_refused', limit: 1000 });
    expect(refused.filter((event) => event.ip?.startsWith('2001:db8:0:1:'))).toHaveLength(1);
    expect(refused.length).toBeLessThanOrEqual(100);
  });
});

describe('forms of a signed-in admin', () => {
  let server: TestServer;
  let admin: FormClient;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', password, actor);
    await server.ctx.projects.create({ name: 'acme' }, actor);
    admin = new FormClient(server.url);
    await admin.login('admin', password);
  });
  afterAll(() => server.close());

  it('should answer a form body over 256 KiB with 413 and the page, changing nothing', async () => {
    await admin.get('/projects/acme/envs/prod');
    const huge = await admin.post('/projects/acme/envs/prod/secrets', { key: 'BIG', value: 'x'.repeat(300 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.text).toContain('Request body larger than 256 KiB');
    expect(await server.ctx.secrets.list({ project: 'acme', environment: 'prod' })).toHaveLength(0);
  });

  it('should send `back` only to a path on this site', async () => {
    for (const back of [
      '/\\evil.example/',
      '//evil.example/',
      '/\t/evil.example',
      'https://evil.example/',
      '/.//evil.example/',
      '/..//evil.example/',
      '/%2e//evil.example/',
    ]) {
      await admin.get('/');
      const sealed = await admin.post('/projects/acme/seal', { back });
      expect([sealed.status, sealed.location], JSON.stringify(back)).toEqual([303, '/']);
    }
    await admin.get('/');
    const local = await admin.post('/projects/acme/seal', { back: '/projects/acme/envs/prod' });
    expect(local.location).toBe('/projects/acme/envs/prod');
  });

  it('should refuse and record a cross-site form even with the right token', async () => {
    await admin.get('/');
    const forged = await admin.post('/projects', { name: 'forged' }, { headers: { origin: 'https://evil.example' } });
    expect(forged.status).toBe(403);
    await expect(server.ctx.projects.byName('forged')).rejects.toThrow();
    await server.ctx.audit.flush();
    const [event] = await server.ctx.audit.list({ action: 'csrf_refused', limit: 1 });
    expect(event?.actor).toBe('user:admin');
  });
});
