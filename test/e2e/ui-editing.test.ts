import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, ROOT } from '../helpers/test-context.js';
import { useBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const password = 'a long enough password';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB1TCCAX+gAwIBAgIU\nZmFrZSBjZXJ0\n-----END CERTIFICATE-----';
const CERT_2 = '-----BEGIN CERTIFICATE-----\nMIIB1TCCAX+gAwIBAgIU\nbmV3IGNlcnQx\n-----END CERTIFICATE-----';

/** Screenshots for docs/ (ui-<page>-<width>.png), taken only with UPDATE_SCREENSHOTS=1. */
const screenshot = async (page: Page, name: string) => {
  if (!process.env.UPDATE_SCREENSHOTS) return;
  const width = page.viewportSize()!.width;
  await page.screenshot({ path: path.join(ROOT, 'docs', `ui-${name}-${width}.png`), fullPage: true });
};

/** Elements matching `selector` that stick out of the viewport or are cut inside their own box (their text). */
const cutOff = (page: Page, selector: string): Promise<string[]> =>
  page.locator(selector).evaluateAll((elements: any[]) => {
    const width = (globalThis as any).innerWidth as number;
    return elements
      .filter((e) => e.offsetParent !== null)
      .filter((e) => {
        const box = e.getBoundingClientRect();
        return box.left < 0 || box.right > width || e.scrollWidth > e.clientWidth + 1;
      })
      .map((e) => String(e.textContent).trim());
  });

/** How wide the page is, scrolled sideways: more than the viewport means something sticks out. */
const pageWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth');

describe('editing secrets in Chromium', () => {
  let server: TestServer;
  let masterKey: string;
  const base = () => `${server.url}/projects/acme-web/envs/prod`;

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', password, actor);
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    const block = (lines: string[]) => `${lines.join('\n')}\n`;
    await server.ctx.secrets.importDotenv(
      {
        project: 'acme',
        environment: 'prod',
        content: block(['LOG_LEVEL=info', 'SENTRY_DSN=https://key@sentry.example/1', 'SMTP_HOST=smtp.example']),
      },
      access,
      actor,
    );
    await server.ctx.secrets.importDotenv(
      {
        project: 'acme-web',
        environment: 'prod',
        content: block([
          'DATABASE_URL=postgres://db.internal/acme',
          'REDIS_URL=redis://cache.internal:6379',
          'STRIPE_SECRET_KEY=sk_live_51H',
          'SESSION_SECRET=0f3c9a',
          `TLS_CERT="${CERT}"`,
          'FEATURE_NEW_CHECKOUT=on',
          'S3_BUCKET=acme-uploads',
        ]),
      },
      access,
      actor,
    );
    // Hundreds of keys in another project.
    await server.ctx.projects.create({ name: 'big' }, actor).then(async ({ masterKey: bigKey }) => {
      const lines = Array.from({ length: 300 }, (_, i) => `KEY_${String(i).padStart(3, '0')}=value ${i}`);
      await server.ctx.secrets.importDotenv(
        { project: 'big', environment: 'prod', content: block(lines) },
        { masterKey: new TextEncoder().encode(bigKey!) },
        actor,
      );
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  let desktop: Page;
  let phone: Page;
  const signIn = async (browser: Browser, width: number, height: number) => {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/`);
    return page;
  };
  useBrowser(async (browser) => {
    desktop = await signIn(browser, 1280, 900);
    phone = await signIn(browser, 390, 844);
  });

  const flash = (page: Page) => page.locator('.flash').first().innerText();
  const row = (page: Page, key: string) => page.locator('tr', { has: page.locator('code', { hasText: key }) });

  it('should show the unseal form in place of an edit form while sealed, then open the key with its value', async () => {
    await desktop.goto(base());
    expect(await desktop.locator('#secret-form').innerText()).toContain('Unseal and edit');
    await row(desktop, 'TLS_CERT').getByRole('link', { name: 'Update' }).click();
    // Not an empty page: the unseal form where the edit form will be, and the history without values.
    const edit = desktop.locator('#edit');
    expect(await edit.getByRole('button', { name: 'Unseal and edit' }).isVisible()).toBe(true);
    expect(await desktop.locator('#history').innerText()).toContain('v1');
    await edit.getByLabel('Master key of acme').fill(masterKey);
    await edit.getByRole('button', { name: 'Unseal and edit' }).click();
    expect(await flash(desktop)).toMatch(/"acme" is unsealed/);
    // Back on the key's page, the multi-line value in the form, exactly.
    expect(new URL(desktop.url()).pathname).toBe('/projects/acme-web/envs/prod/secrets/TLS_CERT');
    expect(await desktop.getByLabel('Value').inputValue()).toBe(CERT);
  });

  it('should save an update, show every version with its value, a diff, and no rollback to the current version', async () => {
    await desktop.getByLabel('Value').fill(CERT_2);
    await desktop.getByRole('button', { name: 'Save' }).click();
    expect(await flash(desktop)).toContain('TLS_CERT saved as version 2');
    await row(desktop, 'TLS_CERT').getByRole('link', { name: 'History' }).click();

    const history = desktop.locator('#history');
    expect(await history.locator('pre.value').allInnerTexts()).toEqual([CERT_2, CERT]);
    expect(await history.getByRole('button', { name: /Roll back/ }).allInnerTexts()).toEqual(['Roll back to v1']);
    // The newest version against the one before, line by line.
    const diff = desktop.locator('#compare pre.diff');
    expect(await diff.locator('.diff-removed').allInnerTexts()).toEqual(['- ZmFrZSBjZXJ0']);
    expect(await diff.locator('.diff-added').allInnerTexts()).toEqual(['+ bmV3IGNlcnQx']);
    expect(await diff.locator('.diff-same').count()).toBe(3);
    await screenshot(desktop, 'history');

    // Roll back, then compare the two versions that hold the same value: no line differs.
    await history.getByRole('button', { name: 'Roll back to v1' }).click();
    expect(await flash(desktop)).toContain('version 3 holds the value of version 1');
    expect(await desktop.getByLabel('Value').inputValue()).toBe(CERT);
    expect(await history.getByRole('button', { name: /Roll back/ }).allInnerTexts()).toEqual([
      'Roll back to v2',
      'Roll back to v1',
    ]);
    await desktop.getByLabel('From', { exact: true }).selectOption('1');
    await desktop.getByLabel('To', { exact: true }).selectOption('3');
    await desktop.getByRole('button', { name: 'Compare' }).click();
    expect(desktop.url()).toContain('from=1&to=3');
    expect(await diff.locator('.diff-removed, .diff-added').count()).toBe(0);
  });

  it('should filter hundreds of keys as you type, and by the address without a script', async () => {
    await desktop.goto(`${server.url}/projects/big/envs/prod`);
    expect(await desktop.locator('#key-count').innerText()).toBe('300 keys');
    await desktop.getByLabel('Filter').fill('key_29');
    await expect.poll(() => desktop.locator('#secret-rows > tr:visible').count()).toBe(10);
    expect(await desktop.locator('#key-count').innerText()).toBe('10 of 300 keys');
    expect(new URL(desktop.url()).searchParams.get('q')).toBe('key_29');
    await desktop.getByLabel('Filter').fill('nothing like it');
    await expect.poll(() => desktop.locator('#no-match').isVisible()).toBe(true);

    const noScript = await desktop.context().browser()!.newContext({ javaScriptEnabled: false });
    try {
      const page = await noScript.newPage();
      await page.goto(`${server.url}/login`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.goto(`${server.url}/projects/big/envs/prod`);
      await page.getByLabel('Filter').fill('KEY_10');
      await page.getByRole('button', { name: 'Filter' }).click();
      expect(await page.locator('#secret-rows > tr:visible').count()).toBe(10);
      expect(await page.locator('#key-count').innerText()).toBe('10 of 300 keys');
    } finally {
      await noScript.close();
    }
  });

  it('should give the exact commands to run an app with this environment', async () => {
    await desktop.goto(base());
    const snippet = await desktop.locator('#run-snippet').innerText();
    expect(snippet).toContain('npx secretsfly token create acme-web prod');
    expect(snippet).toContain(`npx secretsfly login --url ${server.url}`);
    expect(snippet).toMatch(/^npx secretsfly run -- /m);
    expect(await desktop.locator('#run').getByRole('link', { name: 'Service tokens' }).getAttribute('href')).toBe(
      '/projects/acme-web/tokens',
    );
    await screenshot(desktop, 'project');
  });

  it('should preview a pasted block with the import warnings, then apply it', async () => {
    await desktop.goto(base());
    await desktop.getByRole('link', { name: 'Bulk edit' }).click();
    await desktop
      .getByLabel('Dotenv block')
      .fill(
        [
          '# pasted from the old .env',
          'DATABASE_URL=postgres://db.internal/acme',
          'REDIS_URL=redis://cache-2.internal:6379',
          'LOG_LEVEL=debug',
          'API_TOKEN=abc#123',
          'NEW_FLAG=true',
          `TLS_CERT="${CERT_2}"`,
          'stray line',
        ].join('\n'),
      );
    await desktop.getByRole('button', { name: 'Preview changes' }).click();
    expect(await desktop.locator('.summary').innerText()).toMatch(/3 added\s+2 changed\s+1 unchanged/);
    const warnings = await desktop.locator('.warnings li').allInnerTexts();
    expect(warnings).toEqual([
      'line 5 (API_TOKEN): an unquoted # starts a comment, so the value is cut there: quote the value to keep the #',
      'line 11: not a KEY=value line: dotenv ignores it',
    ]);
    expect(await row(desktop, 'LOG_LEVEL').innerText()).toContain('overrides acme');
    expect(await row(desktop, 'REDIS_URL').locator('.diff-added').innerText()).toBe('+ redis://cache-2.internal:6379');
    await screenshot(desktop, 'bulk-preview');

    await desktop.getByRole('button', { name: 'Apply 5 changes despite the warnings' }).click();
    expect(await flash(desktop)).toBe('Applied: 5 keys written as new versions, 1 unchanged.');
    expect(await row(desktop, 'LOG_LEVEL').innerText()).toContain('this project');
    const resolved = await server.ctx.secrets.resolve(
      { project: 'acme-web', environment: 'prod' },
      { masterKey: new TextEncoder().encode(masterKey) },
    );
    expect(resolved.get('API_TOKEN')!.value).toBe('abc');
    expect(resolved.get('TLS_CERT')!.value).toBe(CERT_2);
  });

  it('should keep every action of the key list and the history whole at 390 px', async () => {
    await phone.goto(base());
    await phone.locator('#secret-form').getByLabel('Master key of acme').fill(masterKey);
    await phone.getByRole('button', { name: 'Unseal and edit' }).click();
    expect(await flash(phone)).toMatch(/"acme" is unsealed/);
    expect(await pageWidth(phone)).toBeLessThanOrEqual(390);
    expect(await cutOff(phone, '#secret-rows td.actions a, #secret-rows td.actions button')).toEqual([]);
    expect(await row(phone, 'DATABASE_URL').getByRole('button', { name: 'Delete' }).isVisible()).toBe(true);
    await screenshot(phone, 'project');

    await phone.goto(`${base()}/secrets/TLS_CERT/history`);
    const rollBack = phone.locator('#history').getByRole('button', { name: /Roll back/ });
    expect(await rollBack.allInnerTexts()).toEqual(['Roll back to v3', 'Roll back to v2', 'Roll back to v1']);
    expect(await cutOff(phone, '#history td.actions button, #history pre.value, #compare select')).toEqual([]);
    expect(await pageWidth(phone)).toBeLessThanOrEqual(390);
    await screenshot(phone, 'history');

    await phone.goto(`${base()}/bulk`);
    await phone
      .getByLabel('Dotenv block')
      .fill(`DATABASE_URL=postgres://db-2.internal/acme\nNEW_KEY=1\nLOG_LEVEL=debug\n`);
    await phone.getByRole('button', { name: 'Preview changes' }).click();
    expect(await cutOff(phone, '.apply-bar button, table.preview pre')).toEqual([]);
    expect(await pageWidth(phone)).toBeLessThanOrEqual(390);
    await screenshot(phone, 'bulk-preview');
  });
});
