import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

const SAFE_PAGE = 'An unexpected error occurred; it has been logged.';

describe('admin web UI: statuses and pages over HTTP', () => {
  let server: TestServer;
  let admin: FormClient;
  let masterKey: string;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer({ LOGIN_FAILURES_PER_MINUTE: '2' });
    await server.ctx.users.create('admin', password, actor);
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await server.ctx.projects.create({ name: 'locked' }, actor);
    admin = new FormClient(server.url);
    await admin.login('admin', password);
  });
  afterAll(() => server.close());

  describe('errors', () => {
    it('should answer an unknown page and an unknown project with the 404 page', async () => {
      const nowhere = await admin.get('/no-such-page');
      expect(nowhere.status).toBe(404);
      expect(nowhere.text).toContain('There is nothing here.');
      const ghost = await admin.get('/projects/ghost/envs/prod');
      expect(ghost.status).toBe(404);
      expect(ghost.text).toContain('Project &quot;ghost&quot; not found');
      expect((await admin.get('/setup?token=not-the-token')).status).toBe(410);
    });

    it('should answer JSON to a request that prefers it, with the same status', async () => {
      const res = await admin.get('/projects/ghost/envs/prod', { accept: 'application/json' });
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toEqual({ error: { code: 'not_found', message: 'project "ghost" not found' } });
    });

    it('should refuse a form with a wrong CSRF token with a 403 page, or 403 forbidden as JSON', async () => {
      await admin.get('/projects/new');
      const page = await admin.post('/projects', { name: 'forged', _csrf: 'forged' }, { csrf: false });
      expect(page.status).toBe(403);
      expect(page.text).toContain('This form has expired or did not come from this site.');
      const json = await admin.post(
        '/projects',
        { name: 'forged', _csrf: 'forged' },
        { csrf: false, headers: { accept: 'application/json' } },
      );
      expect(json.status).toBe(403);
      expect(JSON.parse(json.text).error.code).toBe('forbidden');
    });

    it('should re-render the new-project form with 409 for a duplicate, keeping the name but never the key', async () => {
      const ownKey = 'my-own-master-key-never-echoed';
      const duplicate = await admin.submit('/projects/new', '/projects', {
        name: 'acme',
        parent: '',
        keyChoice: 'own',
        masterKey: ownKey,
      });
      expect(duplicate.status).toBe(409);
      expect(duplicate.text).toContain('project &quot;acme&quot; already exists');
      expect(duplicate.text).toContain('value="acme"');
      expect(duplicate.text).toContain('action="/projects"');
      expect(duplicate.text).not.toContain(ownKey);
    });

    it('should keep a flash and a 303 for an action on a list page', async () => {
      const refused = await admin.submit('/environments', '/environments', { name: 'prod' });
      expect([refused.status, refused.location]).toEqual([303, '/environments']);
      expect((await admin.get('/environments')).text).toContain('Environment &quot;prod&quot; already exists');
    });

    it('should answer a wrong master key on unseal with 401 and the form, then 429 with Retry-After', async () => {
      const back = '/projects/locked/envs/prod';
      await admin.get(back);
      const wrong = await admin.post('/projects/locked/unseal', { masterKey: `sfmk_${'Q'.repeat(43)}`, back });
      expect(wrong.status).toBe(401);
      expect(wrong.text).toContain('invalid master key');
      expect(wrong.text).toContain('action="/projects/locked/unseal"');
      // Malformed keys cost no derivation but count as wrong ones, as on the API.
      const statuses = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await admin.post('/projects/locked/unseal', { masterKey: 'short', back })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      const limited = await admin.post('/projects/locked/unseal', { masterKey: `sfmk_${'Q'.repeat(43)}`, back });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.text).toContain('too many requests');
    });

    it('should re-render the sign-in form with 429 and Retry-After once a username has failed too often', async () => {
      const attacker = new FormClient(server.url);
      const statuses = [];
      let last;
      for (let i = 0; i < 3; i++) {
        last = await attacker.submit('/login', '/login', { username: 'target', password: `guess-${i}-guess` });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([401, 401, 429]);
      expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(last!.text).toContain('Too many sign-in attempts');
      expect(last!.text).toContain('value="target"');
      expect(last!.text).not.toContain('guess-2-guess');
    });

    it('should answer 423 with the unseal form where a page needs an unsealed root, then come back to it', async () => {
      const reveal = '/projects/acme-web/envs/prod/reveal';
      const sealed = await admin.get(reveal);
      expect(sealed.status).toBe(423);
      expect(sealed.text).toContain('Unseal &quot;acme&quot; to see values.');
      expect(sealed.text).toContain('action="/projects/acme/unseal"');
      expect(sealed.text).toContain(`name="back" value="${reveal}"`);
      const unsealed = await admin.post('/projects/acme/unseal', { masterKey, back: reveal });
      expect([unsealed.status, unsealed.location]).toEqual([303, reveal]);
      expect((await admin.get(reveal)).status).toBe(200);
      await server.ctx.keys.seal(await server.ctx.projects.byName('acme'), actor);
    });
  });

  describe('unexpected errors', () => {
    it('should answer the JSON API with 500 internal_error and no internals, logging one safe line', async () => {
      const { token } = await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
      const failure = vi
        .spyOn(server.ctx.secrets, 'pull')
        .mockRejectedValue(new Error('SQLITE_CORRUPT near "hunter2-in-a-query" at /srv/data/secretsfly.db'));
      const logged = server.logLines.length;
      try {
        const res = await call(server, '/api/v1/secrets', { token, masterKey });
        expect(res.status).toBe(500);
        expect(res.json).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
        expect(res.text).not.toMatch(/SQLITE|hunter2|secretsfly\.db/);
      } finally {
        failure.mockRestore();
      }
      const errors = server.logLines.slice(logged).filter((line) => line.includes(' error '));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('unhandled error');
      expect(errors[0]).not.toContain('hunter2');
    });

    it('should answer a UI page with the safe 500 page, and a JSON-preferring request with internal_error', async () => {
      const failure = vi
        .spyOn(server.ctx.projects, 'list')
        .mockRejectedValue(new TypeError('Cannot read properties of undefined (reading "wrapped_dek")'));
      try {
        const page = await admin.get('/');
        expect(page.status).toBe(500);
        expect(page.text).toContain(SAFE_PAGE);
        expect(page.text).not.toMatch(/TypeError|wrapped_dek|at .*\.ts/);
        const json = await admin.get('/', { accept: 'application/json' });
        expect(json.status).toBe(500);
        expect(JSON.parse(json.text)).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
      } finally {
        failure.mockRestore();
      }
      expect((await admin.get('/')).status).toBe(200);
    });

    it('should show the safe 500 page, not a flash, when an action fails unexpectedly', async () => {
      const failure = vi.spyOn(server.ctx.environments, 'create').mockRejectedValue(new Error('disk I/O error'));
      try {
        const res = await admin.submit('/environments', '/environments', { name: 'qa' });
        expect(res.status).toBe(500);
        expect(res.text).toContain(SAFE_PAGE);
        expect(res.text).not.toContain('disk I/O');
      } finally {
        failure.mockRestore();
      }
    });
  });

  describe('secret pages', () => {
    const base = '/projects/acme/envs/prod';

    it('should write, show history, roll back and delete from the UI, keeping every version', async () => {
      await admin.post('/projects/acme/unseal', { masterKey, back: base });
      const save = async (value: string) => {
        const res = await admin.submit(base, `${base}/secrets`, { key: 'API_URL', value });
        expect([res.status, res.location]).toEqual([303, base]);
      };
      await save('https://one.example');
      await save('https://two.example');

      const history = await admin.get(`${base}/secrets/API_URL/history`);
      expect(history.status).toBe(200);
      expect(history.text).toContain('History of <code>API_URL</code> in prod');
      expect(history.text).toContain('Roll back to v1');
      // Unsealed, the key's page shows each version's value (an audited reveal); never a rollback to the current one.
      expect(history.text).toContain('<pre class="value">https://one.example</pre>');
      expect(history.text).not.toContain('Roll back to v2');

      const rolledBack = await admin.post(`${base}/secrets/API_URL/rollback`, { version: '1' });
      expect([rolledBack.status, rolledBack.location]).toEqual([303, `${base}/secrets/API_URL/history`]);
      expect((await admin.get(rolledBack.location!)).text).toContain(
        'API_URL rolled back: version 3 holds the value of version 1.',
      );
      const resolved = await server.ctx.secrets.get(
        { project: 'acme', environment: 'prod', key: 'API_URL' },
        { masterKey: new TextEncoder().encode(masterKey) },
      );
      expect([resolved.value, resolved.version]).toEqual(['https://one.example', 3]);

      await admin.get(base);
      const deleted = await admin.post(`${base}/secrets/API_URL/delete`, {});
      expect([deleted.status, deleted.location]).toEqual([303, base]);
      expect((await admin.get(base)).text).toContain('API_URL deleted (version 4 is the tombstone; history is kept).');
      const after = await admin.get(`${base}/secrets/API_URL/history`);
      expect(after.text).toContain('v4');
      expect(after.text).toContain('deleted');
    });

    it('should refuse a rollback on a sealed root with a flash and a 303 back to the history', async () => {
      await admin.submit(base, `${base}/secrets`, { key: 'PINNED', value: 'first' });
      await admin.post('/projects/acme/seal', { back: base });
      await admin.get(`${base}/secrets/PINNED/history`);
      const refused = await admin.post(`${base}/secrets/PINNED/rollback`, { version: '1' });
      expect([refused.status, refused.location]).toEqual([303, `${base}/secrets/PINNED/history`]);
      const page = await admin.get(refused.location!);
      expect(page.text).toContain('is sealed');
      expect(page.text).toContain('Unseal acme to roll back.');
    });

    it('should list keys missing in some environments, resolved with inheritance', async () => {
      const page = await admin.get('/projects/acme-web/missing');
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/<code>PINNED<\/code><\/td>\s*<td><a class="badge badge-missing" href="[^"]*staging/);
      expect(page.text).not.toContain('<code>API_URL</code>');
    });
  });

  describe('audit page', () => {
    it('should filter by action, share events included', async () => {
      const share = await server.ctx.shares.create({ ciphertext: 'v1.n.aaaa.bbbb.cccc', ttl: '1h' }, actor);
      await server.ctx.shares.burn(share.id, share.creator_key, actor);
      await server.ctx.audit.flush();

      const created = await admin.get('/audit?action=share_created');
      expect(created.status).toBe(200);
      expect(created.text).toContain('<option selected>share_created</option>');
      const actions = [...created.text.matchAll(/<td><code>([a-z_]+)<\/code><\/td>/g)].map((m) => m[1]);
      expect(actions).toEqual(['share_created']);

      const burned = await admin.get('/audit?action=share_burned');
      expect([...burned.text.matchAll(/<td><code>([a-z_]+)<\/code><\/td>/g)].map((m) => m[1])).toEqual([
        'share_burned',
      ]);

      const unseals = await admin.get('/audit?action=unseal_failed');
      const rows = [...unseals.text.matchAll(/<td><code>([a-z_]+)<\/code><\/td>/g)].map((m) => m[1]);
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows)).toEqual(new Set(['unseal_failed']));

      // An unknown action is no filter at all.
      const unknown = await admin.get('/audit?action=not_an_action');
      expect(unknown.status).toBe(200);
      const all = [...unknown.text.matchAll(/<td><code>([a-z_]+)<\/code><\/td>/g)].map((m) => m[1]);
      expect(all).toEqual(expect.arrayContaining(['share_created', 'share_burned', 'unseal_failed', 'secret_written']));
    });
  });
});
