import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { FormClient } from '../helpers/form-client.js';

/**
 * The first-admin link's token lives in the memory of the instance that printed it (CONTRACT §1).
 * Behind a balancer the link lands anywhere: the other instances hand it over to that one.
 */
describe('the setup link behind a balancer', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({}, 3, { instanceUrls: true });
  });
  afterAll(() => cluster?.stop());

  /** The link an instance printed (a line after the one saying it listens). */
  const printedLink = async (index: number): Promise<string> => {
    for (let tries = 0; tries < 100; tries++) {
      const match = /(http:\/\/\S+\/setup\?token=\S+)/.exec(cluster.instances[index]!.output());
      if (match) return match[1]!;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`instance ${index + 1} printed no setup link`);
  };

  it('should create the first admin from whichever instance the link and its form reach', async () => {
    const printed = await printedLink(0);
    const link = new URL(printed);
    expect(link.searchParams.get('instance')).toMatch(/^[0-9a-f-]{36}$/);

    // The link opened on i2, the form posted to i3: both reach i1, which knows the token.
    const opened = new FormClient(cluster.instances[1]!.url);
    const page = await opened.get(`${link.pathname}${link.search}`);
    expect(page.status, page.text).toBe(200);
    const action = /<form method="post" action="([^"]+)">/.exec(page.text)![1]!;
    expect(action).toBe(`/setup?instance=${link.searchParams.get('instance')}`);

    const browser = new FormClient(cluster.instances[2]!.url);
    // The same browser: the anonymous form's CSRF cookie came with the page (from i1 through i2).
    browser.cookies = opened.cookies;
    browser.lastCsrf = opened.lastCsrf;
    const created = await browser.post(action.replaceAll('&amp;', '&'), {
      token: link.searchParams.get('token')!,
      username: 'admin',
      password: 'a long enough password',
    });
    expect([created.status, created.location], created.text).toEqual([303, '/login?setup=done']);

    // Any instance signs the new admin in; the links of the other instances are spent.
    await new FormClient(cluster.url).login('admin', 'a long enough password');
    const other = await printedLink(1);
    const spent = await fetch(other);
    expect(spent.status).toBe(410);
  });
});
