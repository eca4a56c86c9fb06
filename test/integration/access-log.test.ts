import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessLogService } from '../../src/secrets/access-log.service.js';
import { FormClient } from '../helpers/form-client.js';
import {
  bytesOf,
  expectNoPlaintext,
  idOf,
  keyedParts,
  startScopedTree,
  type ScopedTree,
} from '../helpers/scoped-tree.js';
import { actor, selectRows } from '../helpers/test-context.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Who received each value, over a real server: pulls of every kind, the UI's reveal, and the pages that show it. */
describe('per-secret access log', () => {
  let t: ScopedTree;
  let admin: FormClient;
  let accessLog: ReturnType<typeof createAccessLogService>;
  /** Every page fetched, to search for values at the end. */
  const seen: string[] = [];
  const page = async (project: string, environment: string, key: string) => {
    const res = await admin.get(`/projects/${project}/envs/${environment}/secrets/${key}/access-log`);
    seen.push(res.text);
    return res;
  };
  const entries = (project: string, environment: string, key: string) => accessLog.list({ project, environment, key });

  beforeAll(async () => {
    t = await startScopedTree();
    await t.ctx.users.create('admin', 'correct horse battery staple', actor);
    admin = new FormClient(t.server.url);
    await admin.login('admin', 'correct horse battery staple');
    accessLog = createAccessLogService({
      db: t.ctx.database.db,
      projects: t.ctx.projects,
      environments: t.ctx.environments,
    });
  });
  afterAll(() => t.server.close());

  it('should list each token that pulled a key, with first, last and count, under the project whose value it received', async () => {
    const classic = t.tokens.classicProd;
    const keyed = t.tokens.keyedProd;
    expect((await t.get('/secrets', classic, { masterKey: t.masterKey })).status).toBe(200);
    await t.ctx.audit.flush();
    await pause(5);
    for (let i = 0; i < 2; i++) expect((await t.get('/secrets', classic, { masterKey: t.masterKey })).status).toBe(200);
    const agent = { 'user-agent': 'deploy-bot/2.0' };
    expect((await t.get('/secrets?format=dotenv', keyed, { headers: agent })).status).toBe(200);
    await t.ctx.audit.flush();

    // acme-web overrides SHARED: both tokens received acme-web's value, none received acme's.
    const shared = await entries('acme-web', 'prod', 'SHARED');
    const byToken = (token: string) => shared.find((e) => e.actor === `token:${idOf(token)}`);
    expect(byToken(classic)).toMatchObject({
      kind: 'token',
      via: 'pull',
      count: 3,
      lastIp: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(byToken(classic)!.firstAt < byToken(classic)!.lastAt).toBe(true);
    expect(byToken(keyed)).toMatchObject({ via: 'keyed_pull', count: 1, lastUserAgent: 'deploy-bot/2.0' });
    expect(byToken(keyed)!.firstAt).toBe(byToken(keyed)!.lastAt);
    expect(await entries('acme', 'prod', 'SHARED')).toEqual([]);
    // An inherited key is logged under the ancestor that holds the value.
    expect((await entries('acme', 'prod', 'DB_URL')).map((e) => e.id).sort()).toEqual(
      [idOf(classic), idOf(keyed)].sort(),
    );

    const html = (await page('acme-web', 'prod', 'SHARED')).text;
    expect(html).toContain(idOf(classic));
    expect(html).toContain(idOf(keyed));
    expect(html).toContain('API pull (keyed token)');
    expect(html).toContain('deploy-bot/2.0');
    expect((await page('acme', 'prod', 'SHARED')).text).toContain('Nobody has received or revealed this value');
  });

  it('should list a keyed token that pulled sealed ciphertexts, as received', async () => {
    const token = t.tokens.keyedStaging;
    expect((await t.get('/secrets?format=sealed', keyedParts(token).proof)).status).toBe(200);
    await t.ctx.audit.flush();
    expect(await entries('acme-web', 'staging', 'API_KEY')).toMatchObject([
      { actor: `token:${idOf(token)}`, via: 'sealed_pull', count: 1 },
    ]);
    expect(await entries('acme', 'staging', 'DB_URL')).toMatchObject([{ via: 'sealed_pull' }]);
    expect((await page('acme-web', 'staging', 'API_KEY')).text).toContain('sealed pull');
  });

  it('should not list a key the answer did not hold', async () => {
    const access = { masterKey: bytesOf(t.masterKey) };
    await t.ctx.secrets.set(
      { project: 'acme-web', environment: 'prod', key: 'GONE', value: 'pl41n-gone' },
      access,
      actor,
    );
    await t.ctx.secrets.remove({ project: 'acme-web', environment: 'prod', key: 'GONE' }, actor);
    expect((await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey })).status).toBe(200);
    // One key asked for: only that key is received.
    const one = await t.get('/secrets/API_KEY', t.tokens.classicStaging, { masterKey: t.masterKey });
    expect(one.status).toBe(200);
    await t.ctx.audit.flush();
    expect(await entries('acme-web', 'prod', 'GONE')).toEqual([]);
    expect(await entries('acme-web', 'staging', 'API_KEY')).toContainEqual(
      expect.objectContaining({ actor: `token:${idOf(t.tokens.classicStaging)}`, via: 'api_get', count: 1 }),
    );
    expect((await entries('acme', 'staging', 'DB_URL')).map((e) => e.id)).not.toContain(idOf(t.tokens.classicStaging));
    // A key the project never had is not found, as on its history page.
    expect((await page('acme-web', 'prod', 'NEVER_WRITTEN')).status).toBe(404);
  });

  it("should list the admin who revealed a scope's values in the UI, for each key shown", async () => {
    const reveal = '/projects/acme-web/envs/prod/reveal';
    await admin.get(reveal);
    expect((await admin.post('/projects/acme/unseal', { masterKey: t.masterKey, back: reveal })).status).toBe(303);
    expect((await admin.get(reveal)).status).toBe(200);
    for (const [project, key] of [
      ['acme-web', 'API_KEY'],
      ['acme-web', 'SHARED'],
      ['acme', 'MULTI'],
      ['acme', 'DB_URL'],
    ] as const) {
      expect(await entries(project, 'prod', key)).toContainEqual(
        expect.objectContaining({ actor: 'user:admin', kind: 'user', via: 'ui_reveal', count: 1 }),
      );
    }
    const html = (await page('acme', 'prod', 'MULTI')).text;
    expect(html).toContain('user <strong>admin</strong>');
    expect(html).toContain('UI reveal');
  });

  it('should cost one row per key for a burst of pulls, not one per pull', async () => {
    const token = t.tokens.keyedProdWrite;
    const burst = await Promise.all(Array.from({ length: 30 }, () => t.get('/secrets', token)));
    expect(burst.every((res) => res.status === 200)).toBe(true);
    await t.ctx.audit.flush();
    const rows = await selectRows<{ key: string; count: number }>(
      t.server.dataDir,
      'select key, count from secret_access where actor = ?',
      [`token:${idOf(token)}`],
    );
    expect(rows.map((r) => r.key).sort()).toEqual(['API_KEY', 'DB_URL', 'MULTI', 'SHARED']);
    expect(rows.every((r) => Number(r.count) === 30)).toBe(true);
    const events = (await t.ctx.audit.list({ action: 'api_read', limit: 1000 })).filter(
      (e) => e.actor === `token:${idOf(token)}`,
    );
    expect(events.length).toBeLessThan(5);
  });

  it('should be derivable from the chained audit events and the key lists they commit to', async () => {
    // A reveal of a scope without keys names an empty list, which resolves too.
    const empty = '/projects/other/envs/staging/reveal';
    await admin.get(empty);
    expect((await admin.post('/projects/other/unseal', { masterKey: t.otherMasterKey, back: empty })).status).toBe(303);
    expect((await admin.get(empty)).status).toBe(200);
    await t.ctx.audit.flush();
    expect((await t.ctx.audit.verify()).ok).toBe(true);
    const rows = await selectRows<{ sha256: string; keys: string }>(
      t.server.dataDir,
      'select * from secret_access_keysets',
    );
    // Each stored list is what its hash, committed in the chain, was taken over: an edited list shows.
    for (const row of rows) expect(createHash('sha256').update(row.keys).digest('hex'), row.keys).toBe(row.sha256);
    const keysets = new Map(rows.map((row) => [row.sha256, JSON.parse(row.keys) as [string, string][]]));
    const envIds: Record<string, string> = { prod: t.ids.prod, staging: t.ids.staging };
    const derived = new Map<string, { first: string; last: string; count: number }>();
    for (const event of await t.ctx.audit.list({ limit: 1000 })) {
      const sha = event.details?.keys_sha256;
      if (typeof sha !== 'string') continue;
      const keys = keysets.get(sha);
      expect(keys, `key list of event ${event.seq}`).toBeDefined();
      const count = Number(event.details?.count ?? 1);
      const last = String(event.details?.last_at ?? event.at);
      for (const [projectId, key] of keys!) {
        const id = [projectId, envIds[event.environment!], key, event.actor, event.details?.via].join('|');
        const was = derived.get(id);
        derived.set(id, {
          first: was && was.first < event.at ? was.first : event.at,
          last: was && was.last > last ? was.last : last,
          count: (was?.count ?? 0) + count,
        });
      }
    }
    const stored = await selectRows<Record<string, string | number>>(t.server.dataDir, 'select * from secret_access');
    expect(stored.length).toBe(derived.size);
    for (const row of stored) {
      const id = [row.project_id, row.environment_id, row.key, row.actor, row.via].join('|');
      expect(derived.get(id), id).toEqual({ first: row.first_at, last: row.last_at, count: Number(row.count) });
    }
  });

  it('should never hold or show a value', async () => {
    await t.ctx.audit.flush();
    const rows = await selectRows(t.server.dataDir, 'select * from secret_access');
    const keysets = await selectRows(t.server.dataDir, 'select * from secret_access_keysets');
    const events = await t.ctx.audit.list({ limit: 1000 });
    expect(rows.length).toBeGreaterThan(0);
    const all = [JSON.stringify(rows), JSON.stringify(keysets), JSON.stringify(events), ...seen].join('\n');
    expectNoPlaintext(all);
    expect(all).not.toContain('pl41n');
  });
});
