import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.js';
import { actor, ROOT } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// Run inside the page by page.evaluate (this project compiles without the DOM library).
declare const document: any;
declare function getComputedStyle(element: unknown, pseudo?: string): any;

const PASSWORD = 'a long enough password';
const DAY = 86_400_000;
const EXACT_UTC = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/;

/** `YYYY-MM-DD` of a time, UTC. */
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('reading the admin UI (audit log, dates, tokens, navigation, phone)', () => {
  let server: TestServer;
  // The server's clock, moved back to create a token that has expired by now.
  let offset = 0;
  let acmeKey: string;
  const threeDaysAgo = Date.now() - 3 * DAY;
  const twoDaysAgo = Date.now() - 2 * DAY;

  beforeAll(async () => {
    server = await startTestServer({}, { now: () => new Date(Date.now() + offset) });
    const { ctx } = server;
    await ctx.users.create('admin', PASSWORD, actor);
    const created = await ctx.projects.create({ name: 'acme' }, actor);
    const acme = created.project;
    acmeKey = created.masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await ctx.projects.create({ name: 'globex' }, actor);
    // 60 reads by one token three days ago, then 5 writes by alice two days ago: more than a page.
    for (let i = 0; i < 60; i++) {
      await ctx.audit.recordAlone({
        actor: { name: 'token:tok0001', ip: '10.0.0.7' },
        action: 'api_read',
        projectId: acme.id,
        environment: 'prod',
        details: { token_id: 'tok0001', format: 'dotenv', keys: 12, count: 1 },
        at: new Date(threeDaysAgo + i * 60_000).toISOString(),
      });
    }
    for (let i = 1; i <= 5; i++) {
      await ctx.audit.recordAlone({
        actor: { name: 'user:alice', ip: '10.0.0.9' },
        action: 'secret_written',
        projectId: acme.id,
        environment: 'staging',
        key: `API_KEY_${i}`,
        details: { version: i },
        at: new Date(twoDaysAgo + i * 60_000).toISOString(),
      });
    }
    const classic = { project: 'acme-web', environment: 'prod', access: 'read' as const };
    offset = -2 * 3600_000;
    await ctx.tokens.create({ ...classic, name: 'old-ci', expiresInSeconds: 1800 }, actor);
    offset = 0;
    await ctx.tokens.create({ ...classic, name: 'api', expiresInSeconds: 7 * 86_400 }, actor);
    const gone = await ctx.tokens.create({ ...classic, name: 'laptop' }, actor);
    await ctx.tokens.revoke(gone.view.id, actor);
    await ctx.audit.flush();
  });
  afterAll(async () => {
    await server?.close();
  });

  let desktop: BrowserContext;
  let phone: BrowserContext;
  const chromium = useBrowser();
  const signIn = async (context: BrowserContext) => {
    const page = await context.newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/`);
    return page;
  };
  const open = async (context: BrowserContext, url: string): Promise<Page> => {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.url}${url}`);
    return page;
  };
  const screenshot = async (page: Page, name: string) => {
    if (!process.env.UPDATE_SCREENSHOTS) return;
    // A long page is cut at 2,400 px: the top of it says what the page looks like.
    const height = Math.min(2400, await page.evaluate(() => document.documentElement.scrollHeight));
    const width = page.viewportSize()!.width;
    await page.screenshot({ path: path.join(ROOT, 'docs', name), fullPage: true, clip: { x: 0, y: 0, width, height } });
  };

  beforeAll(async () => {
    desktop = await chromium.browser.newContext({ viewport: { width: 1280, height: 860 } });
    phone = await chromium.browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    await signIn(desktop);
    await signIn(phone);
  });

  const seqs = (page: Page) =>
    page.locator('table.audit tbody tr td:first-child').evaluateAll((cells) => cells.map((c) => Number(c.textContent)));

  it('should page the audit log 50 at a time, newest first, with a pager reached by the keyboard', async () => {
    const page = await open(desktop, '/audit');
    const first = await seqs(page);
    expect(first).toHaveLength(50);
    expect(first).toEqual([...first].sort((a, b) => b - a));
    await screenshot(page, 'ui-audit-1280.png');

    // From the filters, Tab reaches the pager's "Older" link, and Enter follows it.
    await page.getByLabel('To (UTC)', { exact: true }).focus();
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent?.includes('Older') ?? false);
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(/before=/);
    const second = await seqs(page);
    expect(second.length).toBeGreaterThan(0);
    expect(Math.max(...second)).toBe(Math.min(...first) - 1);

    // And back, to the same first page.
    await page.getByRole('navigation', { name: 'Audit pages, top' }).getByRole('link', { name: /Newer/ }).click();
    expect(await seqs(page)).toEqual(first);
    expect(await page.getByRole('link', { name: /Newer/ }).count()).toBe(0);
  });

  it('should filter by project, action, actor and date, and keep the filters across pages', async () => {
    const page = await open(desktop, '/audit');
    await page.getByLabel('Actor').fill('alice');
    await page.getByLabel('Actor').press('Enter');
    await page.waitForURL(/actor=alice/);
    const who = await page.locator('table.audit tbody td.actor').allInnerTexts();
    expect(who).toEqual(Array(5).fill('user:alice'));

    // Three days ago, UTC: the token's 60 reads and nothing else, over two pages.
    await page.goto(`${server.url}/audit`);
    await page.getByLabel('From (UTC)', { exact: true }).fill(dayOf(threeDaysAgo));
    await page.getByLabel('To (UTC)', { exact: true }).fill(dayOf(threeDaysAgo + 59 * 60_000));
    await page.getByLabel('Project').selectOption('acme');
    await page.getByLabel('Action').selectOption('api_read');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=api_read/);
    const firstPage = await page.locator('table.audit tbody td:nth-child(4)').allInnerTexts();
    expect(firstPage).toEqual(Array(50).fill('api_read'));
    await page.getByRole('navigation', { name: 'Audit pages, bottom' }).getByRole('link', { name: /Older/ }).click();
    expect(page.url()).toContain('action=api_read');
    expect(await page.locator('table.audit tbody td:nth-child(4)').allInnerTexts()).toEqual(Array(10).fill('api_read'));

    // Nothing matches: the page says so and how to widen it.
    await page.goto(`${server.url}/audit?project=globex&action=api_read`);
    expect(await page.locator('table.audit tbody').innerText()).toMatch(/^No events match these filters\. .*clear/);
    await page.getByRole('link', { name: 'Clear filters' }).click();
    expect(await seqs(page)).toHaveLength(50);
  });

  it('should show event details as labelled fields, never as JSON', async () => {
    const page = await open(desktop, '/audit?action=api_read');
    const details = page.locator('table.audit tbody tr').first().locator('dl.fields');
    const pairs = await details
      .locator('div')
      .evaluateAll((items) =>
        items.map((d) => `${d.querySelector('dt')!.textContent}=${d.querySelector('dd')!.textContent}`),
      );
    expect(pairs).toEqual(['From=10.0.0.7', 'Token=tok0001', 'Format=dotenv', 'Keys sent=12', 'Times=1']);
    expect(await page.locator('table.audit').innerText()).not.toMatch(/[{}"]/);
  });

  it('should show every date the same way: relative, the exact UTC time on hover and on focus, never wrapped', async () => {
    for (const [context, width] of [
      [desktop, 1280],
      [phone, 390],
    ] as const) {
      for (const url of ['/audit', '/projects/acme-web/tokens']) {
        const page = await open(context, url);
        const times = await page.locator('main time').evaluateAll((elements) =>
          elements.map((t) => {
            const lineHeight =
              parseFloat(getComputedStyle(t).lineHeight) || parseFloat(getComputedStyle(t).fontSize) * 1.6;
            return {
              text: t.textContent ?? '',
              title: t.getAttribute('title') ?? '',
              iso: t.getAttribute('datetime') ?? '',
              lines: t.getClientRects().length,
              tall: t.getBoundingClientRect().height > lineHeight * 1.5,
            };
          }),
        );
        expect(times.length, `${url} at ${width}`).toBeGreaterThan(0);
        for (const time of times) {
          expect(time.text, `${url} at ${width}`).toMatch(/^(just now|in under a minute|\d+ \w+ ago|in \d+ \w+)$/);
          expect(time.title).toMatch(EXACT_UTC);
          expect(time.title.slice(0, 16)).toBe(time.iso.slice(0, 16).replace('T', ' '));
          expect([time.lines, time.tall], `"${time.text}" wraps on ${url} at ${width}`).toEqual([1, false]);
        }
      }
    }
    // Focus (the keyboard's hover) shows the exact time.
    const page = await open(desktop, '/audit');
    const first = page.locator('main time').first();
    await first.focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const shown = await first.evaluate((t) => getComputedStyle(t, '::after').content);
    expect(shown).toBe(`"${await first.getAttribute('title')}"`);
  });

  it('should say each token state in a word beside its action', async () => {
    const page = await open(desktop, '/projects/acme-web/tokens');
    const rows = await page.locator('table.tokens tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        name: tr.querySelector('.token-name')!.firstChild!.textContent!.trim(),
        state: tr.querySelector('.state')!.textContent,
        action: tr.querySelector('.state-cell button')?.textContent ?? null,
      })),
    );
    expect(rows).toEqual([
      { name: 'old-ci', state: 'expired', action: 'Revoke old-ci' },
      { name: 'api', state: 'active', action: 'Revoke api' },
      { name: 'laptop', state: 'revoked', action: null },
    ]);
    expect(await page.locator('tr', { hasText: 'api' }).locator('td[data-label="Expires"]').innerText()).toBe(
      'in 7 days',
    );
    await screenshot(page, 'ui-tokens-1280.png');
  });

  it('should revoke a token from the keyboard and say what to do next', async () => {
    const { view } = await server.ctx.tokens.create(
      { project: 'globex', environment: 'prod', access: 'read', name: 'temp' },
      actor,
    );
    const page = await open(desktop, '/projects/globex/tokens');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke temp' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForLoadState('load');
    const flash = await page.locator('.flash').first().innerText();
    expect(flash).toMatch(/^Token "temp" revoked: .*new token/);
    expect(await page.locator('tr', { hasText: 'temp' }).locator('.state').innerText()).toBe('revoked');
    expect((await server.ctx.tokens.list('globex')).find((t) => t.id === view.id)?.revoked_at).not.toBeNull();
  });

  it('should mark the section of each page in the top navigation', async () => {
    for (const [url, section] of [
      ['/', 'Projects'],
      ['/projects/acme-web/tokens', 'Projects'],
      ['/projects/acme/envs/prod', 'Projects'],
      ['/environments', 'Environments'],
      ['/share', 'Share once'],
      ['/audit', 'Audit log'],
    ] as const) {
      const page = await open(desktop, url);
      const current = await page
        .getByRole('navigation', { name: 'Main' })
        .locator('[aria-current="page"]')
        .allInnerTexts();
      expect(current, url).toEqual([section]);
    }
  });

  it('should say the rule of a name field in words', async () => {
    const page = await open(desktop, '/environments');
    const field = page.getByLabel('New environment');
    const describedBy = (await field.getAttribute('aria-describedby'))!;
    expect(await page.locator(`#${describedBy}`).innerText()).toMatch(
      /^Lower-case letters, digits, dashes and underscores/,
    );
  });

  it('should fit a 390 px phone: one navigation row, cards with their actions, nothing cut off', async () => {
    // A secret with two versions, so that its history offers a rollback (it needs the root unsealed).
    const secrets = await open(phone, '/projects/acme/envs/prod');
    await secrets.getByPlaceholder('Master key of acme').fill(acmeKey);
    await secrets.getByRole('button', { name: 'Unseal', exact: true }).click();
    for (const value of ['one', 'two']) {
      await secrets.getByLabel('Key').fill('LOG_LEVEL');
      await secrets.getByLabel('Value').fill(value);
      await secrets.getByRole('button', { name: 'Save' }).click();
      await secrets.waitForLoadState('load');
    }
    for (const url of [
      '/',
      '/audit',
      '/projects/acme-web/tokens',
      '/projects/acme/envs/prod',
      '/projects/acme/envs/prod/secrets/LOG_LEVEL/history',
      '/projects/acme/missing',
      '/environments',
      '/share',
    ]) {
      const page = await open(phone, url);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), url).toBeLessThanOrEqual(390);
      // The four sections sit in one row, each whole on screen.
      const links = await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link')
        .evaluateAll((as) =>
          as
            .map((a) => a.getBoundingClientRect())
            .map((r) => ({ top: Math.round(r.top), left: r.left, right: r.right })),
        );
      expect(links).toHaveLength(4);
      expect(new Set(links.map((l) => l.top)).size, url).toBe(1);
      for (const link of links) expect([link.left >= 0, link.right <= 390], url).toEqual([true, true]);
      // Every link, button and tab in the page is whole on screen (none cut by an edge or a scroller).
      const cut = await page
        .locator('main a, main button, main select, main input:not([type=hidden])')
        .evaluateAll((elements) =>
          elements
            .filter((e) => e.getClientRects().length > 0 && !e.closest('.visually-hidden'))
            .filter((e) => {
              const r = e.getBoundingClientRect();
              let clipped = r.left < 0 || r.right > 390.5;
              for (let p = e.parentElement; p && !clipped; p = p.parentElement) {
                const style = getComputedStyle(p);
                if (style.overflowX === 'visible') continue;
                const box = p.getBoundingClientRect();
                clipped = r.left < box.left - 0.5 || r.right > box.right + 0.5;
              }
              return clipped;
            })
            .map((e) => e.textContent?.trim() || e.getAttribute('name') || e.tagName),
        );
      expect(cut, url).toEqual([]);
      if (url === '/') await screenshot(page, 'ui-home-390.png');
      if (url === '/audit') await screenshot(page, 'ui-audit-390.png');
      if (url === '/projects/acme-web/tokens') await screenshot(page, 'ui-tokens-390.png');
    }
    // The home page at 1280, beside its phone picture.
    await screenshot(await open(desktop, '/'), 'ui-home-1280.png');
  });
});
