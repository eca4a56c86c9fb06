import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor, snapshotDatabase } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const password = 'correct horse battery staple';
const PAGE = '/projects/bulk/envs/prod';

/** What a page says, its text as a reader sees it (Handlebars escapes =, quotes and backticks too). */
const unescape = (html: string) =>
  html.replace(
    /&(#x3D|quot|#x27|#x60|lt|gt|amp);/g,
    (_, entity: string) => ({ '#x3D': '=', quot: '"', '#x27': "'", '#x60': '`', lt: '<', gt: '>', amp: '&' })[entity]!,
  );

/** The value of a hidden field of the last form page (names and versions only: no escaping to undo). */
const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

describe('bulk edit and key pages in the admin UI', () => {
  let server: TestServer;
  let masterKey: string;
  let admin: FormClient;
  const values = async (environment = 'prod', project = 'bulk') =>
    Object.fromEntries(
      [
        ...(await server.ctx.secrets.resolve(
          { project, environment },
          { masterKey: new TextEncoder().encode(masterKey) },
        )),
      ].map(([key, s]) => [key, s.value]),
    );

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', password, actor);
    masterKey = (await server.ctx.projects.create({ name: 'bulk' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'bulk-child', parent: 'bulk' }, actor);
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    for (const [key, value] of [
      ['KEEP', 'same'],
      ['CHANGE', 'old value'],
      ['UNTOUCHED', 'not in the block'],
    ]) {
      await server.ctx.secrets.set({ project: 'bulk', environment: 'prod', key: key!, value: value! }, access, actor);
    }
    admin = new FormClient(server.url);
    await admin.login('admin', password);
  });
  afterAll(() => server.close());

  it('should show the unseal form in place of the bulk edit form while the root is sealed', async () => {
    const page = await admin.get(`${PAGE}/bulk`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Unseal and edit');
    expect(page.text).not.toContain('name="content"');
    const preview = await admin.post(`${PAGE}/bulk/preview`, { content: 'A=1\n' });
    expect(preview.status).toBe(423);
    expect(preview.text).toContain('Unseal and edit');
    // The key page too: its history without values, and the unseal form where the edit form would be.
    const key = await admin.get(`${PAGE}/secrets/CHANGE`);
    expect(key.status).toBe(200);
    expect(key.text).toContain('Unseal and edit');
    expect(key.text).not.toContain('old value');
  });

  it('should preview added, changed and unchanged keys with the import warnings, then apply them in one go', async () => {
    await admin.get(PAGE);
    expect((await admin.post('/projects/bulk/unseal', { masterKey, back: PAGE })).status).toBe(303);
    const block = 'KEEP=same\nCHANGE="new value\nsecond line"\nADDED=fresh#cut\nNEW_ONE=1\n';
    await admin.get(`${PAGE}/bulk`);
    const revealsBefore = (await server.ctx.audit.list({ action: 'secrets_revealed' })).length;
    const preview = await admin.post(`${PAGE}/bulk/preview`, { content: block });
    expect(preview.status).toBe(200);
    expect(preview.headers.get('cache-control')).toBe('no-store');
    expect(preview.text).toContain('2 added');
    expect(preview.text).toContain('1 changed');
    expect(preview.text).toContain('1 unchanged');
    // The CLI's warning about the unquoted #, word for word.
    expect(preview.text).toContain('line 4 (ADDED): an unquoted # starts a comment');
    // The changed value as a line diff: the old line removed, the two new ones added.
    expect(preview.text).toMatch(/diff-removed">- old value</);
    expect(preview.text).toMatch(/diff-added">\+ new value</);
    expect(preview.text).toMatch(/diff-added">\+ second line</);
    expect(preview.text).toContain('Apply 3 changes despite the warnings');
    expect((await server.ctx.audit.list({ action: 'secrets_revealed' })).length).toBe(revealsBefore + 1);
    // Nothing is written by a preview.
    expect(await values()).toEqual({ KEEP: 'same', CHANGE: 'old value', UNTOUCHED: 'not in the block' });

    const applied = await admin.post(`${PAGE}/bulk/apply`, {
      content: block.replace(/\n/g, '\r\n'),
      seen: hidden(preview.text, 'seen')!,
      allowWarnings: '1',
    });
    expect([applied.status, applied.location]).toEqual([303, PAGE]);
    expect((await admin.get(PAGE)).text).toContain('Applied: 3 keys written as new versions, 1 unchanged.');
    expect(await values()).toEqual({
      KEEP: 'same',
      CHANGE: 'new value\nsecond line',
      ADDED: 'fresh',
      NEW_ONE: '1',
      UNTOUCHED: 'not in the block',
    });
    const imported = await server.ctx.audit.list({ action: 'imported' });
    expect(imported[0]!.actor).toBe('user:admin');
  });

  it('should refuse to apply a preview once a key changed since, writing nothing', async () => {
    const block = 'CHANGE=from the preview\nANOTHER=x\n';
    await admin.get(`${PAGE}/bulk`);
    const preview = await admin.post(`${PAGE}/bulk/preview`, { content: block });
    const seen = hidden(preview.text, 'seen')!;
    await server.ctx.secrets.set(
      { project: 'bulk', environment: 'prod', key: 'CHANGE', value: 'written meanwhile' },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
    const before = await snapshotDatabase(server.dataDir);
    const refused = await admin.post(`${PAGE}/bulk/apply`, { content: block, seen });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('Nothing was applied: the values changed since your preview');
    expect(refused.text).toContain('CHANGE is at version');
    // The form again, with the block, to preview afresh.
    expect(unescape(refused.text)).toContain('CHANGE=from the preview');
    const after = await snapshotDatabase(server.dataDir);
    expect(after.secret_versions).toEqual(before.secret_versions);
    expect(after.secrets).toEqual(before.secrets);
    expect((await values()).CHANGE).toBe('written meanwhile');
  });

  it('should refuse a block with a bad key or a damaged preview, writing nothing', async () => {
    await admin.get(`${PAGE}/bulk`);
    const bad = await admin.post(`${PAGE}/bulk/preview`, { content: 'GOOD=1\n9BAD=2\n' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('invalid key (it starts with a digit)');
    expect(unescape(bad.text)).toContain('9BAD=2');

    const before = await snapshotDatabase(server.dataDir);
    // A key the preview never saw (the block was altered after it): refused as a change since the preview.
    const altered = await admin.post(`${PAGE}/bulk/apply`, { content: 'GOOD=1\nSNEAKED_IN=2\n', seen: 'GOOD:0' });
    expect(altered.status).toBe(409);
    const damaged = await admin.post(`${PAGE}/bulk/apply`, { content: 'GOOD=1\n', seen: 'GOOD:zero' });
    expect(damaged.status).toBe(400);
    expect(damaged.text).toContain('this preview is damaged');
    // Warnings not accepted at preview time: the import's own refusal.
    const warned = await admin.post(`${PAGE}/bulk/apply`, { content: 'GOOD=a#b\n', seen: 'GOOD:0' });
    expect(warned.status).toBe(400);
    expect(warned.text).toContain('nothing was imported');
    const forged = await admin.post(`${PAGE}/bulk/apply`, { content: 'GOOD=1\n', seen: 'GOOD:0' }, { csrf: false });
    expect(forged.status).toBe(403);
    const after = await snapshotDatabase(server.dataDir);
    expect(after.secret_versions).toEqual(before.secret_versions);
  });

  it("should open a key's page with its value, its history with values, a diff, and no rollback to the current version", async () => {
    const revealsBefore = (await server.ctx.audit.list({ action: 'secrets_revealed' })).length;
    const page = await admin.get(`${PAGE}/secrets/CHANGE`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    // The edit form holds the current value (the newline after <textarea> is the parser's, not the value's).
    expect(page.text).toMatch(/<textarea id="value"[^>]*>\nwritten meanwhile<\/textarea>/);
    // v1 old value, v2 the bulk edit (two lines), v3 written meanwhile.
    expect(page.text).toContain('<pre class="value">old value</pre>');
    expect(page.text).toContain('<pre class="value">new value\nsecond line</pre>');
    expect(page.text).toContain('Roll back to v1');
    expect(page.text).toContain('Roll back to v2');
    expect(page.text).not.toContain('Roll back to v3');
    // By default, the newest version against the one before.
    expect(page.text).toMatch(/diff-removed">- new value</);
    expect(page.text).toMatch(/diff-added">\+ written meanwhile</);
    const chosen = await admin.get(`${PAGE}/secrets/CHANGE?from=1&to=2`);
    expect(chosen.text).toMatch(/diff-removed">- old value</);
    expect(chosen.text).toMatch(/diff-added">\+ second line</);
    const reveals = await server.ctx.audit.list({ action: 'secrets_revealed' });
    expect(reveals.length).toBe(revealsBefore + 2);
    expect(reveals[0]!.key).toBe('CHANGE');
  });

  it('should show a hostile value as text in the edit form, the history and the diff', async () => {
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    const hostile = '</textarea><script>alert(1)</script>\n</pre><img src=x onerror=alert(2)>';
    await server.ctx.secrets.set(
      { project: 'bulk', environment: 'prod', key: 'HOSTILE', value: 'plain' },
      access,
      actor,
    );
    await server.ctx.secrets.set(
      { project: 'bulk', environment: 'prod', key: 'HOSTILE', value: hostile },
      access,
      actor,
    );
    const page = await admin.get(`${PAGE}/secrets/HOSTILE`);
    expect(page.text).not.toContain('<script>alert(1)');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).toMatch(/diff-added">\+ &lt;\/pre&gt;&lt;img src&#x3D;x/);
  });

  it('should filter the keys of a project page with ?q=, without a script', async () => {
    const page = await admin.get(`${PAGE}?q=chan`);
    expect(page.text).toMatch(/1 of 6 keys/);
    expect(page.text).toMatch(/<tr data-key="CHANGE">/);
    expect(page.text).toMatch(/<tr data-key="KEEP" hidden>/);
    const none = await admin.get(`${PAGE}?q=nothing-like-it`);
    expect(none.text).toMatch(
      /<p class="muted" id="no-match">No key matches “<span id="no-match-query">nothing-like-it/,
    );
    // The snippet names this project and environment, and how to make its token.
    expect(page.text).toContain('npx secretsfly token create bulk prod');
    expect(page.text).toContain(`npx secretsfly login --url ${server.url}`);
    expect(page.text).toContain('npx secretsfly run -- ');
  });
});
