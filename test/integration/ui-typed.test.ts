import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, ROOT } from '../helpers/test-context.js';
import { FormClient } from '../helpers/form-client.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * Typed secrets in the admin UI, over HTTP as a browser submits them: a form per type, a key page
 * that edits the fields it holds and shows a certificate's public metadata, a Test button that
 * checks a stored key or certificate without showing it, and expiry marked in the list.
 */
const read = (name: string) => fs.readFileSync(path.join(ROOT, 'test/fixtures/typed', name), 'utf8');
const PASSWORD = 'ui-typed-canary-pa55';

describe('typed secrets in the admin UI', () => {
  let server: TestServer;
  let admin: FormClient;
  const page = '/projects/acme/envs/prod';

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', 'a long admin password', actor);
    const masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    admin = new FormClient(server.url);
    await admin.login('admin', 'a long admin password');
    await admin.submit(page, '/projects/acme/unseal', { masterKey, back: page });
  });
  afterAll(() => server?.close());

  it('should offer a form per type and save a credential from it', async () => {
    const form = await admin.get(`${page}?type=credential`);
    expect(form.text).toContain('name="field_username"');
    expect(form.text).toContain('name="field_password" type="password"');
    expect(form.text).toMatch(/aria-current="true" class="current">Credential</);
    const saved = await admin.post(`${page}/secrets`, {
      key: 'DB',
      type: 'credential',
      field_username: 'app',
      field_password: PASSWORD,
    });
    expect([saved.status, saved.location]).toEqual([303, page]);
    const list = await admin.get(page);
    expect(list.text).toMatch(/<code>DB<\/code><\/a> <span class="badge">Credential<\/span>/);

    // A missing field: the form's error names it, nothing is written.
    const bad = await admin.post(`${page}/secrets`, {
      key: 'DB2',
      type: 'credential',
      field_username: 'x',
      field_password: '',
    });
    expect(bad.status).toBe(303);
    const after = await admin.get(page);
    expect(after.text).toContain('DB2: the field &quot;password&quot; is required for a credential');
    expect(after.text).not.toContain('<code>DB2</code>');
  });

  it("should open a key's page on its own type, fields filled in", async () => {
    const key = await admin.get(`${page}/secrets/DB`);
    expect(key.status).toBe(200);
    expect(key.text).toContain('name="field_username" type="text" value="app"');
    expect(key.text).toContain(`name="field_password" type="password" value="${PASSWORD}"`);
    expect(key.text).not.toContain('name="value"');
  });

  it('should show a certificate, test it without showing it, and mark an expired one in the list', async () => {
    await admin.get(page);
    const saved = await admin.post(`${page}/secrets`, {
      key: 'TLS',
      type: 'certificate',
      field_certificate: read('tls.crt').replace(/\n/g, '\r\n'),
      field_private_key: read('tls.key'),
    });
    expect(saved.status).toBe(303);
    const tls = await admin.get(`${page}/secrets/TLS`);
    expect(tls.text).toContain('<dt>Subject</dt><dd><code>CN&#x3D;api.example.test</code></dd>');
    expect(tls.text).toContain('<code>DNS:api.example.test</code>');
    expect(tls.text).toContain('/secrets/TLS/test');
    // The edit form holds the PEM exactly, line for line (no indentation added, CRLF as LF).
    const pem = read('tls.crt').replace(/\n$/, '');
    expect(tls.text).toContain(
      `name="field_certificate" rows="6" spellcheck="false" autocomplete="off" required>\n${pem}`,
    );
    const tested = await admin.post(`${page}/secrets/TLS/test`, {});
    expect(tested.status).toBe(303);
    const flash = await admin.get(`${page}/secrets/TLS`);
    expect(flash.text).toContain(
      'TLS: the certificate parses and its private key matches it; it expires on 2125-01-01.',
    );

    await admin.post(`${page}/secrets`, { key: 'OLD', type: 'certificate', field_certificate: read('expired.crt') });
    const list = await admin.get(page);
    expect(list.text).toMatch(
      /<code>OLD<\/code><\/a> <span class="badge">Certificate<\/span> <span class="badge badge-danger">expired <time/,
    );
    expect(list.text).not.toMatch(/<code>TLS<\/code><\/a>[^\n]*badge-(danger|warn)/);
  });
});
