import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A project page with hundreds of keys stays light: past a page of keys the server filters and
 * pages them, and every row's Delete button shares one form (one CSRF field, not one a row).
 */
describe('a project page with many keys', () => {
  let server: TestServer;
  let admin: FormClient;
  const page = '/projects/big/envs/prod';
  const rowsOf = (html: string) => [...html.matchAll(/<tr data-key="([A-Z0-9_]+)"/g)].map((m) => m[1]);

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', 'a long admin password', actor);
    const masterKey = (await server.ctx.projects.create({ name: 'big' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    const content = Array.from({ length: 250 }, (_, i) => `KEY_${String(i).padStart(3, '0')}=value-${i}`).join('\n');
    await server.ctx.secrets.importDotenv({ project: 'big', environment: 'prod', content }, access, actor);
    await server.ctx.secrets.set(
      { project: 'big', environment: 'prod', key: 'DATABASE_URL', value: 'x' },
      access,
      actor,
    );
    admin = new FormClient(server.url);
    await admin.login('admin', 'a long admin password');
  });
  afterAll(() => server?.close());

  it('should show 100 keys a page, with a pager, and filter on the server', async () => {
    const first = await admin.get(page);
    expect(rowsOf(first.text)).toHaveLength(100);
    expect(first.text).toContain('Page 1 of 3');
    // Handlebars writes `=` in an attribute as &#x3D;, which a browser reads back as `=`.
    expect(first.text).toContain(`href="${page}?page&#x3D;2" rel="next"`);
    expect(first.text.length).toBeLessThan(100_000);
    // One CSRF field for all the Delete buttons.
    expect(first.text.match(/name="_csrf"/g)!.length).toBeLessThan(10);

    const third = await admin.get(`${page}?page=3`);
    expect(rowsOf(third.text).at(-1)).toBe('KEY_249');
    expect(rowsOf(third.text)).toHaveLength(51);
    expect(third.text).toContain(`href="${page}?page&#x3D;2" rel="prev"`);

    const filtered = await admin.get(`${page}?q=database`);
    expect(rowsOf(filtered.text)).toEqual(['DATABASE_URL']);
    expect(filtered.text).not.toContain('Page 1 of');
    // A page past the end shows the last one.
    expect((await admin.get(`${page}?page=99`)).text).toContain('Page 3 of 3');
  });

  it('should show 50 tokens a page, and revoke one through the shared form', async () => {
    for (let i = 0; i < 60; i++) {
      await server.ctx.tokens.create({ project: 'big', environment: 'prod', access: 'read', name: `app-${i}` }, actor);
    }
    const tokensOf = (html: string) => [...html.matchAll(/<tr class="token-(\w+)">/g)].map((m) => m[1]);
    const first = await admin.get('/projects/big/tokens');
    expect(tokensOf(first.text)).toHaveLength(50);
    expect(first.text).toContain('Page 1 of 2 (60 tokens)');
    const second = await admin.get('/projects/big/tokens?page=2');
    expect(tokensOf(second.text)).toHaveLength(10);
    const id = /formaction="\/tokens\/([0-9a-f]+)\/revoke"/.exec(second.text)![1]!;
    const revoked = await admin.post(`/tokens/${id}/revoke`, { back: '/projects/big/tokens?page=2' });
    expect(revoked.status).toBe(303);
    expect((await server.ctx.tokens.list('big')).find((t) => t.id === id)!.revoked_at).not.toBeNull();
  });

  it("should show the values of a key's newest 20 versions only, listing the older ones", async () => {
    const masterKey = (await server.ctx.projects.create({ name: 'versions' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    for (let i = 1; i <= 25; i++) {
      await server.ctx.secrets.set(
        { project: 'versions', environment: 'prod', key: 'K', value: `value ${i}` },
        access,
        actor,
      );
    }
    const key = '/projects/versions/envs/prod/secrets/K';
    await admin.submit(key, '/projects/versions/unseal', { masterKey, back: key });
    const html = (await admin.get(key)).text;
    expect(html.match(/<pre class="value">/g)).toHaveLength(20);
    expect(html.match(/older than the last 20 versions: not shown/g)).toHaveLength(5);
    expect(html).toContain('<pre class="value">value 25</pre>');
    expect(html).not.toContain('value 5<');
  });

  it('should delete a key through the shared form', async () => {
    await admin.get(page);
    const deleted = await admin.post(`${page}/secrets/KEY_000/delete`, {});
    expect([deleted.status, deleted.location]).toEqual([303, page]);
    expect(rowsOf((await admin.get(page)).text)).not.toContain('KEY_000');
  });
});
