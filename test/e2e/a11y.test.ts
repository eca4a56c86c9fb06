import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, seriousViolations, type Violation } from '../helpers/a11y.js';
import { useBrowser } from '../helpers/browser.js';
import { actor } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PASSWORD = 'a long enough password';
const WIDTHS = [1280, 390] as const;

/** The most a page may weigh, everything it loads included, headers too. */
const PAGE_BUDGET_BYTES = 100 * 1024;

describe('every page, in Chromium: accessible, light, and first-party only', () => {
  let server: TestServer;
  let masterKey: string;
  let shareId: string;
  const chromium = useBrowser();
  const contexts = new Map<number, BrowserContext>();
  /** Serious and critical violations per page and width: each test fills in its pages. */
  const found: Record<string, Violation[]> = {};

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    for (const context of contexts.values()) await context.close();
    await server?.close();
  });

  const check = async (page: Page, name: string, width: number) => {
    found[`${name} @${width}`] = await seriousViolations(page);
  };
  const expectNone = (names: readonly string[], known: Readonly<Record<string, readonly string[]>> = {}) => {
    const failing = Object.entries(found)
      .map(([page, list]) => [page, list.filter((v) => !known[page.split(' @')[0]!]?.includes(v.id))] as const)
      .filter(([page, list]) => names.includes(page.split(' @')[0]!) && list.length > 0);
    expect(failing.map(([page, list]) => `${page}\n${describeViolations(list)}`).join('\n\n')).toBe('');
  };

  it('should pass axe on the pages shown before sign-in', async () => {
    const link = /https?:\/\/\S+\/setup\?token=[\w-]+/.exec(server.announced.join('\n'))![0];
    for (const width of WIDTHS) {
      const context = await chromium.browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      await page.goto(link);
      await check(page, 'setup', width);
      await page.goto(`${server.url}/login`);
      await check(page, 'login', width);
      // A failed sign-in shows its message.
      await page.getByLabel('Username').fill('nobody');
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await check(page, 'login (refused)', width);
      await context.close();
    }
    expectNone(['setup', 'login', 'login (refused)']);
  });

  /** After the pages shown before sign-in: the setup link works only while there is no admin. */
  const signIn = async () => {
    if (contexts.size > 0) return;
    await server.ctx.users.create('admin', PASSWORD, actor);
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await server.ctx.tokens.create({ project: 'acme-web', environment: 'prod', access: 'read', name: 'ci' }, actor);
    const share = await server.ctx.shares.create({ ciphertext: 'v1.n.aaaa.bbbb.cccc', ttl: '1h' }, actor);
    shareId = share.id;
    for (const width of WIDTHS) {
      const context = await chromium.browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      page.on('dialog', (dialog) => void dialog.accept());
      await page.goto(`${server.url}/login`);
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/`);
      contexts.set(width, context);
    }
  };

  /** Pages whose views this file's owner keeps (the others are listed below). */
  const READING_PAGES = [
    'home',
    'environments',
    'audit',
    'tokens',
    'token created',
    'share once',
    'share reveal',
    'share gone',
    'missing keys',
    'not found',
  ];

  it('should pass axe on the reading pages, signed in', async () => {
    await signIn();
    for (const width of WIDTHS) {
      const page = contexts.get(width)!.pages()[0]!;
      const visit = async (name: string, url: string) => {
        await page.goto(`${server.url}${url}`);
        await check(page, name, width);
      };
      await visit('home', '/');
      await visit('environments', '/environments');
      await visit('audit', '/audit');
      await visit('tokens', '/projects/acme-web/tokens');
      await visit('missing keys', '/projects/acme-web/missing');
      await visit('share once', '/share');
      await visit('share reveal', `/s/${shareId}`);
      await visit('share gone', '/s/nothing-here');
      await visit('not found', '/no-such-page');
      // A token, shown once (classic: the root is sealed).
      await page.goto(`${server.url}/projects/acme-web/tokens`);
      await page.getByLabel('Kind').selectOption('classic');
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.locator('#token').waitFor();
      await check(page, 'token created', width);
    }
    expectNone(READING_PAGES);
  });

  /** Pages whose views another engineer keeps: checked the same way. */
  const PROJECT_PAGES = ['new project', 'secrets (sealed)', 'unseal', 'secrets', 'values', 'history', 'master key'];

  it('should pass axe on the project and secret pages', async () => {
    await signIn();
    for (const width of WIDTHS) {
      const page = contexts.get(width)!.pages()[0]!;
      const visit = async (name: string, url: string) => {
        await page.goto(`${server.url}${url}`);
        await check(page, name, width);
      };
      await visit('new project', '/projects/new');
      await visit('secrets (sealed)', '/projects/acme/envs/prod');
      await visit('unseal', '/projects/acme/envs/prod/reveal');
      await page.goto(`${server.url}/projects/acme/envs/prod`);
      await page.getByPlaceholder('Master key of acme').fill(masterKey);
      await page.getByRole('button', { name: 'Unseal', exact: true }).click();
      for (const value of ['one', 'two']) {
        await page.getByLabel('Key').fill('LOG_LEVEL');
        await page.getByLabel('Value').fill(value);
        await page.getByRole('button', { name: 'Save' }).click();
        await page.waitForLoadState('load');
      }
      await check(page, 'secrets', width);
      await visit('values', '/projects/acme/envs/prod/reveal');
      await visit('history', '/projects/acme/envs/prod/secrets/LOG_LEVEL/history');
      await page.goto(`${server.url}/projects/new`);
      await page.getByLabel('Name').fill(`root-${width}`);
      await page.getByRole('button', { name: 'Create project' }).click();
      await page.locator('#master-key').waitFor();
      await check(page, 'master key', width);
    }
    // The decrypted view goes back to the encrypted one by itself (CONTRACT §5,
    // NB_MINUTES_DECRYPTED_BEFORE_REDIRECT) through a meta refresh, which axe counts critical
    // (WCAG 2.2.1: a time limit the user cannot extend). Known; that page's owner decides.
    expectNone(PROJECT_PAGES, { values: ['meta-refresh'] });
    expect(found['values @1280']!.map((v) => v.id)).toEqual(['meta-refresh']);
  });

  it('should keep each page under 100 KB transferred, with no request to another host', async () => {
    await signIn();
    const state = await contexts.get(1280)!.storageState();
    const weights: Record<string, number> = {};
    for (const url of [
      '/',
      '/environments',
      '/audit',
      '/projects/acme-web/tokens',
      '/projects/acme/envs/prod',
      '/projects/acme/envs/prod/secrets/LOG_LEVEL/history',
      '/projects/acme-web/missing',
      '/share',
      `/s/${shareId}`,
      '/login',
    ]) {
      // A fresh context each time: nothing comes from the cache, so everything counts.
      const context = await chromium.browser.newContext({ storageState: url === '/login' ? undefined : state });
      const page = await context.newPage();
      const requests: { url: string; bytes: Promise<number> }[] = [];
      page.on('requestfinished', (request) =>
        requests.push({
          url: request.url(),
          bytes: request.sizes().then((s) => s.responseHeadersSize + s.responseBodySize),
        }),
      );
      await page.goto(`${server.url}${url}`, { waitUntil: 'networkidle' });
      expect(page.url(), `${url} was answered, not redirected to sign-in`).toBe(`${server.url}${url}`);
      const elsewhere = requests.map((r) => r.url).filter((u) => !u.startsWith(`${server.url}/`));
      expect(elsewhere, url).toEqual([]);
      weights[url] = (await Promise.all(requests.map((r) => r.bytes))).reduce((a, b) => a + b, 0);
      await context.close();
    }
    console.log(
      'page weights (bytes, everything loaded):',
      Object.entries(weights)
        .map(([url, bytes]) => `${url} ${bytes}`)
        .join(', '),
    );
    for (const [url, bytes] of Object.entries(weights)) expect(bytes, url).toBeLessThan(PAGE_BUDGET_BYTES);
    expect(Object.keys(weights)).toHaveLength(10);
  });
});
