import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.js';
import { actor, readAllStored, ROOT, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const SECRET = 'first line\nsecond line: ünïcode 日本語 "quotes" <b>not bold</b>';

describe('one-time sharing in Chromium', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', 'a long enough password', actor);
    await server.ctx.projects.create({ name: 'acme' }, actor);
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(async () => {
    await server?.close();
  });
  const chromium = useBrowser();

  async function shareFromUi(secret: string, passphrase?: string): Promise<string> {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Share once' }).click();
    await page.getByLabel('Secret').fill(secret);
    if (passphrase) await page.getByLabel(/^Passphrase/).fill(passphrase);
    await page.getByRole('button', { name: 'Create link' }).click();
    await page.locator('#share-result').waitFor({ state: 'visible' });
    const link = await page.locator('#share-link').innerText();
    // Its expiry in the one date format of every page: relative, the exact UTC time on hover and focus.
    const expires = page.locator('#share-expires time.when');
    expect(await expires.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await expires.innerText()).toMatch(/^in \d+ (hours?|days?|minutes?)$/);
    if (process.env.UPDATE_SCREENSHOTS)
      await page.screenshot({ path: path.join(ROOT, 'docs', 'ui-share.png'), fullPage: true });
    await context.close();
    return link;
  }

  async function revealInFreshBrowser(
    link: string,
    passphrase?: string,
  ): Promise<{ value: string; afterReload: string }> {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    expect(page.url()).not.toContain('#'); // the key leaves the address bar at once
    if (passphrase) await page.getByLabel('Passphrase').fill(passphrase);
    await page.getByRole('button', { name: 'Reveal the secret' }).click();
    await page.locator('#reveal-result').waitFor({ state: 'visible' });
    const value = await page.locator('#reveal-value').innerText();
    await page.reload();
    const afterReload = await page.locator('#reveal-gone').innerText();
    await context.close();
    return { value, afterReload };
  }

  it('should create a link in the admin UI that a fresh browser reveals once', async () => {
    const link = await shareFromUi(SECRET);
    expect(link).toMatch(new RegExp(`^${server.url}/s/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{43}$`));
    // A chat app's link preview fetches the page: that consumes nothing.
    expect((await fetch(link)).status).toBe(200);
    expect((await fetch(link.split('#')[0]!)).status).toBe(200);
    const { value, afterReload } = await revealInFreshBrowser(link);
    expect(value).toBe(SECRET);
    expect(afterReload).toContain('already been viewed');
  });

  it('should need the passphrase of a passphrase-protected share', async () => {
    const link = await shareFromUi('behind a passphrase', 'correct horse');
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    await page.getByRole('button', { name: 'Reveal the secret' }).click();
    await page.locator('#reveal-error').waitFor({ state: 'visible' });
    expect(await page.locator('#reveal-error').innerText()).toContain('Enter the passphrase');
    await context.close();
    expect((await revealInFreshBrowser(link, 'correct horse')).value).toBe('behind a passphrase');
  });

  it('should open a CLI-made link in the browser, and a browser-made link with the CLI', async () => {
    const env = { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token };
    const made = await runCli(['share', '--ttl', '15m'], { dataDir: tempDir(), env, input: `${SECRET}\n` });
    expect(made.code, made.stderr).toBe(0);
    expect((await revealInFreshBrowser(made.stdout.trim())).value).toBe(SECRET);

    const passphraseFile = path.join(tempDir(), 'pass');
    fs.writeFileSync(passphraseFile, 'from the browser\n');
    const browserLink = await shareFromUi(SECRET, 'from the browser');
    const opened = await runCli(['share', 'open', browserLink, '--passphrase-file', passphraseFile], {
      dataDir: tempDir(),
    });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toBe(`${SECRET}\n`);
    const again = await runCli(['share', 'open', browserLink, '--passphrase-file', passphraseFile], {
      dataDir: tempDir(),
    });
    expect([again.code, again.stderr]).toEqual([1, 'secretsfly: this secret has already been viewed\n']);
  });

  it('should leave no plaintext and no link key in any file of DATA_DIR', async () => {
    const link = await shareFromUi('pl41ntext-never-stored');
    await server.ctx.audit.flush();
    for (const { file, content } of await readAllStored(server.dataDir)) {
      expect(content.includes(Buffer.from('pl41ntext-never-stored')), file).toBe(false);
      expect(content.includes(Buffer.from(link.split('#')[1]!)), file).toBe(false);
    }
  });
});
