import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { useBrowser } from '../helpers/browser.js';
import { engineEnv, FAST_KDF, ROOT } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const XSS = '<script>alert(1)</script>';
const MULTILINE = 'line one\nline two: ünïcode 🔐';

describe('admin UI in Chromium', () => {
  let server: TestServer;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  const chromium = useBrowser(async (browser) => {
    page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
    page.on('dialog', async (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      // Our own confirm() prompts are accepted; an alert() would be injected script.
      await dialog.accept();
    });
  });

  const flash = () => page.locator('.flash').first().innerText();
  const screenshot = async (name: string) => {
    if (process.env.UPDATE_SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, 'docs', name), fullPage: true });
  };

  it('should take an admin from setup to a sealed project and back out', async () => {
    // Setup → login.
    const link = /https?:\/\/\S+\/setup\?token=[\w-]+/.exec(server.announced.join('\n'))![0];
    await page.goto(link);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel(/^Password/).fill('a long enough password');
    await page.getByRole('button', { name: 'Create admin' }).click();
    expect(await flash()).toContain('The first admin is created');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Projects');

    // A root project: its master key is shown once.
    await page.getByRole('link', { name: 'Create your first project' }).click();
    await page.getByLabel('Name').fill('acme');
    await page.getByRole('button', { name: 'Create project' }).click();
    expect(await page.locator('h1').innerText()).toContain('Store the master key of “acme” now');
    const masterKey = await page.locator('#master-key').innerText();
    expect(masterKey).toMatch(/^sfmk_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('link', { name: 'I have stored it' }).click();

    // A child, from the parent picker.
    await page.goto(`${server.url}/projects/new?parent=acme`);
    await page.getByLabel('Name').fill('acme-web');
    await page.getByRole('button', { name: 'Create project' }).click();
    expect(await flash()).toContain('Project "acme-web" created');

    // Unseal the root.
    await page.goto(`${server.url}/projects/acme/envs/prod`);
    await page.getByPlaceholder('Master key of acme').fill(masterKey);
    await page.getByRole('button', { name: 'Unseal', exact: true }).click();
    expect(await flash()).toMatch(/"acme" is unsealed for \d+ minutes/);

    // Secrets in two environments (one hostile, one multi-line).
    const addSecret = async (key: string, value: string) => {
      await page.getByLabel('Key').fill(key);
      await page.getByLabel('Value').fill(value);
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await flash()).toContain(`${key} saved as version`);
    };
    await addSecret('DATABASE_URL', 'postgres://db.internal/acme');
    await addSecret('LOG_LEVEL', 'info');
    await addSecret('HOSTILE', XSS);
    await addSecret('CERT', MULTILINE);
    await page.getByRole('link', { name: 'staging', exact: true }).click();
    await addSecret('DATABASE_URL', 'postgres://staging/acme');

    // The decrypted view shows exact values, the hostile one as text.
    await page.goto(`${server.url}/projects/acme/envs/prod`);
    await page.getByRole('link', { name: 'Show values' }).click();
    const hostile = page.locator('tr', { has: page.locator('code', { hasText: 'HOSTILE' }) }).locator('pre.value');
    expect(await hostile.innerText()).toBe(XSS);
    expect(
      await page
        .locator('tr', { has: page.locator('code', { hasText: 'CERT' }) })
        .locator('pre.value')
        .innerText(),
    ).toBe(MULTILINE);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe(
      '300;url=/projects/acme/envs/prod',
    );
    await screenshot('ui-decrypted.png');

    // The child inherits, marks the source, and overrides.
    await page.goto(`${server.url}/projects/acme-web/envs/prod`);
    const inheritedRow = page.locator('tr', { has: page.locator('code', { hasText: 'LOG_LEVEL' }) });
    expect(await inheritedRow.innerText()).toContain('inherited from acme');
    await inheritedRow.getByRole('link', { name: 'Override' }).click();
    expect(await page.getByLabel('Key').inputValue()).toBe('LOG_LEVEL');
    await page.getByLabel('Value').fill('debug');
    await page.getByRole('button', { name: 'Save' }).click();
    expect(await page.locator('tr', { has: page.locator('code', { hasText: 'LOG_LEVEL' }) }).innerText()).toContain(
      'this project',
    );
    await page.getByRole('link', { name: 'Show values' }).click();
    expect(
      await page
        .locator('tr', { has: page.locator('code', { hasText: 'LOG_LEVEL' }) })
        .locator('pre.value')
        .innerText(),
    ).toBe('debug');

    // History and rollback.
    await page.goto(`${server.url}/projects/acme-web/envs/prod/secrets/LOG_LEVEL/history`);
    await page.goto(`${server.url}/projects/acme-web/envs/prod`);
    await page.getByLabel('Key').fill('LOG_LEVEL');
    await page.getByLabel('Value').fill('warn');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.goto(`${server.url}/projects/acme-web/envs/prod/secrets/LOG_LEVEL/history`);
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    expect(await flash()).toContain('version 3 holds the value of version 1');

    // Keys missing per environment.
    await page.getByRole('link', { name: 'Missing keys' }).click();
    const missing = await page.locator('table').innerText();
    expect(missing).toMatch(/CERT\s+staging\s+prod/);
    expect(missing).toMatch(/LOG_LEVEL\s+staging\s+prod/);

    // A service token, shown once, listed after; a hostile name stays text.
    await page.getByRole('link', { name: 'Service tokens' }).click();
    await page.getByLabel('Name').fill('<img src=x onerror=alert(2)>');
    await page.getByLabel('Access').selectOption('read_write');
    await page.getByLabel('Expires').selectOption('7d');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.locator('#token').innerText();
    // Keyed (the default): acme is unsealed by this session, so its environment key is at hand.
    expect(token).toMatch(/^sfst_k1_[0-9a-f]{16}_/);
    await page.getByRole('link', { name: 'Done' }).click();
    expect(await page.locator('table').innerText()).toContain('<img src=x onerror=alert(2)>');
    expect(await page.locator('table').innerText()).not.toContain(token);

    // The API agrees with the UI, with the master key and (a keyed token) without it.
    for (const headers of [{ 'x-master-key': masterKey }, {}] as Record<string, string>[]) {
      const pulled = await fetch(`${server.url}/api/v1/secrets`, {
        headers: { authorization: `Bearer ${token}`, ...headers },
      });
      expect(((await pulled.json()) as { secrets: Record<string, string> }).secrets).toMatchObject({
        LOG_LEVEL: 'debug',
        HOSTILE: XSS,
        CERT: MULTILINE,
      });
    }

    // Home: the tree with its badge.
    await page.goto(server.url);
    expect(await page.locator('.root-tree').innerText()).toMatch(/acme\s+Unsealed · \d+ min left/);
    await screenshot('ui-home.png');

    // Seal: values are gone from the UI at once.
    await page.goto(`${server.url}/projects/acme/envs/prod`);
    await page.getByRole('button', { name: 'Seal now' }).click();
    expect(await flash()).toContain('"acme" is sealed');
    await page.goto(`${server.url}/projects/acme/envs/prod/reveal`);
    expect(await flash()).toContain('Unseal "acme" to see values');

    // Audit log with a filter: two decrypted views, and four openings of a key's page while unsealed
    // (Override, history twice, the history after the rollback), each of which shows values.
    await page.goto(`${server.url}/audit?action=secrets_revealed`);
    expect(await page.locator('table.audit tbody tr').count()).toBe(6);
    expect(await page.locator('.page-head .badge').innerText()).toMatch(/Chain intact/);

    // Sign out.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(server.url);
    expect(page.url()).toBe(`${server.url}/login`);

    // Nothing injected ever ran: the only dialogs were our own confirm() prompts.
    expect(dialogs.filter((d) => !d.startsWith('confirm:'))).toEqual([]);
  });

  it('should seal a root by itself after ADMIN_MASTER_KEY_EXPIRATION', async () => {
    // A second server on the same DATA_DIR (sessions and session secret included), with a 2-second expiry.
    const quick = await startServer(
      loadConfig({
        DATA_DIR: server.dataDir,
        ...(await engineEnv(server.dataDir)),
        PORT: '0',
        ADMIN_MASTER_KEY_EXPIRATION: '2',
        AVAILABLE_ENVIRONMENTS: 'prod,staging',
      }),
      { logger: createLogger('error', () => {}), announce: () => {}, overrides: { kdfParams: FAST_KDF } },
    );
    try {
      const context = await chromium.browser.newContext();
      const tab = await context.newPage();
      await tab.goto(`${quick.url}/login`);
      await tab.getByLabel('Username').fill('admin');
      await tab.getByLabel('Password').fill('a long enough password');
      await tab.getByRole('button', { name: 'Sign in' }).click();
      const masterKey = (await quick.ctx.projects.create({ name: 'short-lived' }, { name: 'test' })).masterKey!;
      await tab.goto(`${quick.url}/projects/short-lived/envs/prod`);
      await tab.getByPlaceholder('Master key of short-lived').fill(masterKey);
      await tab.getByRole('button', { name: 'Unseal', exact: true }).click();
      await tab.goto(quick.url);
      expect(await tab.locator('li', { hasText: 'short-lived' }).first().innerText()).toContain('Unsealed');
      // Real time, as in production: reload until the page says sealed, rather than a fixed sleep past expiry.
      await expect
        .poll(
          async () => {
            await tab.reload();
            return tab.locator('li', { hasText: 'short-lived' }).first().innerText();
          },
          { timeout: 10_000, interval: 500 },
        )
        .toContain('Sealed');
      // The page reads the clock; the audit event comes from the timer, which may fire a moment later.
      await expect
        .poll(async () => {
          await quick.ctx.audit.flush();
          return (await quick.ctx.audit.list({ action: 'auto_seal' })).length;
        })
        .toBe(1);
      await context.close();
    } finally {
      await quick.close();
    }
  });
});
