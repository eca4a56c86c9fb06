import { execFileSync } from 'node:child_process';
import { parse } from 'dotenv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli } from '../helpers/test-context.js';
import { call } from '../helpers/test-server.js';
import {
  bytesOf,
  expectNoPlaintext,
  idOf,
  keyedParts,
  openValues,
  SEED,
  startScopedTree,
  type ScopedTree,
  WEB_PROD,
  WEB_STAGING,
} from '../helpers/scoped-tree.js';

/** The shell answer evaluated by `sh`, as a deploy script would: each key's value, exactly. */
function evalShell(body: string, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    keys.map((key) => [
      key,
      execFileSync('sh', ['-c', `eval "$(cat)"; printf '%s' "$${key}"`], { input: body, encoding: 'utf8' }),
    ]),
  );
}

const WRONG_MASTER_KEY = `sfmk_${'W'.repeat(43)}`;

/** A keyed token's three ways in (docs/crypto.md), over a real server and real SQLite files. */
describe('scoped keys over the HTTP API: the three pulls on one tree', () => {
  let t: ScopedTree;
  beforeAll(async () => {
    t = await startScopedTree();
  });
  afterAll(() => t.server.close());

  it('should resolve the same values with a classic token and its master key as with a keyed token alone', async () => {
    const classic = await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(classic.status).toBe(200);
    expect(classic.headers.get('cache-control')).toBe('no-store');
    expect(classic.json).toEqual({ project: 'acme-web', environment: 'prod', secrets: WEB_PROD });

    const keyed = await t.get('/secrets', t.tokens.keyedProd);
    expect(keyed.status, keyed.text).toBe(200);
    expect(keyed.headers.get('cache-control')).toBe('no-store');
    expect(keyed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(keyed.json).toEqual({ project: 'acme-web', environment: 'prod', secrets: WEB_PROD });

    // Each keyed token opens its own environment, and the root's token its own project.
    const staging = await t.get('/secrets', t.tokens.keyedStaging);
    expect(staging.json).toEqual({ project: 'acme-web', environment: 'staging', secrets: WEB_STAGING });
    const root = await t.get('/secrets', t.tokens.keyedRootProd);
    expect(root.json).toEqual({ project: 'acme', environment: 'prod', secrets: SEED.acme.prod });
    const other = await t.get('/secrets', t.tokens.keyedOther);
    expect(other.json).toEqual({ project: 'other', environment: 'prod', secrets: SEED.other.prod });
    // A second pull (from the token's cached key) answers the same.
    expect((await t.get('/secrets', t.tokens.keyedProd)).json.secrets).toEqual(WEB_PROD);
  });

  it('should serve a keyed token alone as dotenv, shell, with metadata, and one key at a time', async () => {
    const dotenv = await t.get('/secrets?format=dotenv', t.tokens.keyedProd);
    expect(dotenv.status, dotenv.text).toBe(200);
    expect(dotenv.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(dotenv.headers.get('cache-control')).toBe('no-store');
    expect(parse(dotenv.text)).toEqual(WEB_PROD);

    const shell = await t.get('/secrets?format=shell', t.tokens.keyedProd);
    expect(shell.status, shell.text).toBe(200);
    expect(shell.headers.get('cache-control')).toBe('no-store');
    expect(evalShell(shell.text, Object.keys(WEB_PROD))).toEqual(WEB_PROD);

    const metadata = await t.get('/secrets?include=metadata', t.tokens.keyedProd);
    expect(metadata.status, metadata.text).toBe(200);
    expect(metadata.headers.get('cache-control')).toBe('no-store');
    const classicMetadata = await t.get('/secrets?include=metadata', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(metadata.json).toEqual(classicMetadata.json);
    expect(metadata.json.secrets.SHARED).toEqual({
      value: WEB_PROD.SHARED,
      version: 1,
      project: 'acme-web',
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(metadata.json.secrets.DB_URL).toMatchObject({ value: WEB_PROD.DB_URL, project: 'acme' });

    for (const [key, project] of [
      ['SHARED', 'acme-web'],
      ['DB_URL', 'acme'],
      ['MULTI', 'acme'],
    ] as const) {
      const one = await t.get(`/secrets/${key}`, t.tokens.keyedProd);
      expect(one.status, one.text).toBe(200);
      expect(one.headers.get('cache-control')).toBe('no-store');
      expect(one.json).toEqual({ key, value: WEB_PROD[key], version: 1, project, environment: 'prod' });
    }
    const missing = await t.get('/secrets/NOT_THERE', t.tokens.keyedProd);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found');
  });

  it('should accept a keyed token with the right master key, as the classic path', async () => {
    for (const as of [t.tokens.keyedProd, t.tokens.keyedProdWrite]) {
      const res = await t.get('/secrets', as, { masterKey: t.masterKey });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.json.secrets).toEqual(WEB_PROD);
      const one = await t.get('/secrets/API_KEY', as, { masterKey: t.masterKey });
      expect(one.json.value).toBe(WEB_PROD.API_KEY);
    }
  });

  it('should refuse a keyed token with a malformed master key: 401 invalid_master_key, never its own key instead', async () => {
    for (const malformed of ['x', 'sfmk_short', t.masterKey.slice(0, -1), 'W'.repeat(2000)]) {
      for (const path of ['/secrets', '/secrets?format=dotenv', '/secrets/API_KEY']) {
        const res = await t.get(path, t.tokens.keyedProd, { masterKey: malformed });
        expect(res.status, `${path} ${malformed.slice(0, 12)}`).toBe(401);
        expect(res.json.error.code).toBe('invalid_master_key');
        expectNoPlaintext(res.text);
      }
    }
  });

  it('should refuse a classic token without its master key: 401 invalid_master_key', async () => {
    for (const path of ['/secrets', '/secrets?format=shell', '/secrets/DB_URL']) {
      const res = await t.get(path, t.tokens.classicProd);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_master_key');
      expectNoPlaintext(res.text);
    }
  });

  it('should hand the proof a sealed answer with no plaintext, which opens to exactly what the classic pull gives', async () => {
    for (const [token, classicToken, environment] of [
      [t.tokens.keyedProd, t.tokens.classicProd, 'prod'],
      [t.tokens.keyedStaging, t.tokens.classicStaging, 'staging'],
    ] as const) {
      const { proof } = keyedParts(token);
      const sealed = await t.get('/secrets?format=sealed', proof);
      expect(sealed.status, sealed.text).toBe(200);
      expect(sealed.headers.get('cache-control')).toBe('no-store');
      expect(sealed.headers.get('content-type')).toMatch(/^application\/json/);
      expectNoPlaintext(sealed.text);
      expect(sealed.json).toMatchObject({
        format: 'secretsfly-sealed/1',
        token: idOf(token),
        project: 'acme-web',
        environment,
        root: t.ids.acme,
        environment_id: t.ids[environment],
        chain: [
          { id: t.ids.acme, name: 'acme' },
          { id: t.ids.web, name: 'acme-web' },
        ],
      });

      const classic = await t.get('/secrets?include=metadata', classicToken, { masterKey: t.masterKey });
      expect(classic.status).toBe(200);
      const opened = openValues(sealed.text, token);
      expect(opened.project).toBe('acme-web');
      expect(opened.environment).toBe(environment);
      expect(opened.values).toEqual(environment === 'prod' ? WEB_PROD : WEB_STAGING);
      // Versions and source projects too, as the classic metadata answer gives them.
      const metadata = Object.fromEntries(
        [...opened.secrets].map(([key, s]) => [
          key,
          { value: s.value, version: s.version, project: s.project, updated_at: s.updatedAt },
        ]),
      );
      expect(metadata).toEqual(classic.json.secrets);

      // The whole token may ask for the sealed form too; it is the same answer.
      const whole = await t.get('/secrets?format=sealed', token);
      expect(whole.status).toBe(200);
      expect(openValues(whole.text, token).values).toEqual(opened.values);
    }
  });

  it('should hold no key for a token that only ever sent its proof', async () => {
    const fresh = (
      await t.ctx.tokens.create(
        { project: 'acme-web', environment: 'prod', access: 'read', keyed: { masterKey: bytesOf(t.masterKey) } },
        actor,
      )
    ).token;
    const { id, proof } = keyedParts(fresh);
    for (let i = 0; i < 3; i++) expect((await t.get('/secrets?format=sealed', proof)).status).toBe(200);
    // Only the wrapping key could have unwrapped the environment key: the server never saw it.
    expect(t.ctx.keystore.holdsToken(id)).toBe(false);
    expect(openValues((await t.get('/secrets?format=sealed', proof)).text, fresh).values).toEqual(WEB_PROD);
  });

  it('should answer 400 to ?format=sealed with a classic token, master key or not', async () => {
    for (const extra of [{}, { masterKey: t.masterKey }]) {
      const res = await t.get('/secrets?format=sealed', t.tokens.classicProd, extra);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_request');
      expectNoPlaintext(res.text);
    }
  });

  it('should check an X-Master-Key sent with a sealed pull, as on every call, and count a wrong one', async () => {
    const { proof } = keyedParts(t.tokens.keyedProd);
    expect((await t.get('/secrets?format=sealed', proof, { masterKey: t.masterKey })).status).toBe(200);
    const wrong = await t.get('/secrets?format=sealed', proof, { masterKey: 'sfmk_' + 'W'.repeat(43) });
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 'invalid_master_key']);
    const malformed = await t.get('/secrets?format=sealed', proof, { masterKey: 'x' });
    expect([malformed.status, malformed.json.error.code]).toEqual([401, 'invalid_master_key']);
    expectNoPlaintext(wrong.text);
  });

  it('should refuse the proof on every route but the sealed pull: 403 and no value in the body', async () => {
    const { proof } = keyedParts(t.tokens.keyedProd);
    const { proof: writeProof } = keyedParts(t.tokens.keyedProdWrite);
    const attempts: { path: string; method?: string; body?: unknown; token: string; masterKey?: string }[] = [
      { path: '/secrets', token: proof },
      { path: '/secrets?format=json', token: proof },
      { path: '/secrets?format=dotenv', token: proof },
      { path: '/secrets?format=shell', token: proof },
      { path: '/secrets?include=metadata', token: proof },
      { path: '/secrets/API_KEY', token: proof },
      { path: '/secrets/API_KEY?format=sealed', token: proof },
      { path: '/secrets/NOT_THERE', token: proof },
      // With the master key as well: the proof still fetches the sealed form only.
      { path: '/secrets', token: proof, masterKey: t.masterKey },
      { path: '/secrets/API_KEY', token: proof, masterKey: t.masterKey },
      { path: '/secrets/API_KEY', method: 'PUT', body: { value: 'pl41n-by-proof' }, token: writeProof },
      { path: '/secrets/NEW_KEY', method: 'PUT', body: { value: 'pl41n-by-proof', cas: 0 }, token: writeProof },
      {
        path: '/secrets/API_KEY',
        method: 'PUT',
        body: { value: 'pl41n-by-proof' },
        token: writeProof,
        masterKey: t.masterKey,
      },
      { path: '/secrets/API_KEY', method: 'DELETE', token: writeProof },
      { path: '/secrets/API_KEY', method: 'DELETE', token: writeProof, masterKey: t.masterKey },
      { path: '/secrets/API_KEY', method: 'PUT', body: { value: 'pl41n-by-proof' }, token: proof },
    ];
    for (const { path, method = 'GET', body, token, masterKey } of attempts) {
      const res = await fetch(`${t.server.url}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(masterKey !== undefined && { 'x-master-key': masterKey }),
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(JSON.parse(text).error.code).toBe('forbidden');
      expectNoPlaintext(text);
    }
    // Nothing was written or deleted.
    const after = await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(after.json.secrets).toEqual(WEB_PROD);
  });
});

describe('scoped keys over the HTTP API: writes and wrong master keys', () => {
  let t: ScopedTree | undefined;
  afterEach(async () => {
    await t?.server.close();
    t = undefined;
  });

  it('should write with a read_write keyed token alone (PUT, cas, DELETE) and read it back by every pull', async () => {
    t = await startScopedTree();
    const as = t.tokens.keyedProdWrite;
    const { proof } = keyedParts(as);
    const put = (key: string, body: unknown) => putJson(t!, key, as, body);

    const written = await put('API_KEY', { value: 'pl41n-rotated-api-key' });
    expect(written.status, written.text).toBe(200);
    expect(written.json).toEqual({ key: 'API_KEY', version: 2 });
    expect(written.headers.get('cache-control')).toBe('no-store');
    // An override of an inherited key lands in the token's own project.
    expect((await put('DB_URL', { value: 'postgres://pl41n-web-own-db' })).json).toEqual({ key: 'DB_URL', version: 1 });
    // cas: a stale version and "absent" for a live key conflict; the right one writes.
    const stale = await put('API_KEY', { value: 'pl41n-lost-update', cas: 1 });
    expect(stale.status).toBe(409);
    expect(stale.json.error.code).toBe('version_conflict');
    expect((await put('API_KEY', { value: 'pl41n-lost-update', cas: 0 })).status).toBe(409);
    const cas = await put('API_KEY', { value: 'pl41n-cas-api-key', cas: 2 });
    expect(cas.status, cas.text).toBe(200);
    expect(cas.json).toEqual({ key: 'API_KEY', version: 3 });
    expect((await put('BRAND_NEW', { value: 'pl41n-brand-new', cas: 0 })).json).toEqual({
      key: 'BRAND_NEW',
      version: 1,
    });
    // Delete the child's override of SHARED: the root's value shows again.
    const removed = await deleteKey(t, 'SHARED', as);
    expect(removed.status, removed.text).toBe(204);
    expect((await deleteKey(t, 'SHARED', as)).status).toBe(404);

    const expected = {
      DB_URL: 'postgres://pl41n-web-own-db',
      SHARED: SEED.acme.prod.SHARED,
      MULTI: SEED.acme.prod.MULTI,
      API_KEY: 'pl41n-cas-api-key',
      BRAND_NEW: 'pl41n-brand-new',
    };
    const classic = await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(classic.json.secrets).toEqual(expected);
    expect((await t.get('/secrets', t.tokens.keyedProd)).json.secrets).toEqual(expected);
    const sealed = await t.get('/secrets?format=sealed', proof);
    expect(openValues(sealed.text, as).values).toEqual(expected);
    // After a restart (nothing cached), from the database alone.
    t.forget();
    expect((await t.get('/secrets', t.tokens.keyedProd)).json.secrets).toEqual(expected);
    expect((await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey })).json.secrets).toEqual(expected);
    // The other environment and the root project saw nothing of it.
    expect((await t.get('/secrets', t.tokens.keyedStaging)).json.secrets).toEqual(WEB_STAGING);
    expect((await t.get('/secrets', t.tokens.keyedRootProd)).json.secrets).toEqual(SEED.acme.prod);
  });

  it('should write in staging with a staging keyed token, leaving prod as it was', async () => {
    t = await startScopedTree();
    const res = await putJson(t, 'SHARED', t.tokens.keyedStagingWrite, { value: 'pl41n-staging-web-shared' });
    expect(res.status, res.text).toBe(200);
    expect((await t.get('/secrets', t.tokens.classicStaging, { masterKey: t.masterKey })).json.secrets).toEqual({
      ...WEB_STAGING,
      SHARED: 'pl41n-staging-web-shared',
    });
    expect((await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey })).json.secrets).toEqual(WEB_PROD);
  });

  it('should refuse writes with a read keyed token (403), alone or with the master key, writing nothing', async () => {
    t = await startScopedTree();
    for (const extra of [{}, { masterKey: t.masterKey }]) {
      const put = await putJson(t, 'API_KEY', t.tokens.keyedProd, { value: 'pl41n-not-allowed' }, extra);
      expect(put.status).toBe(403);
      expect(put.json.error.code).toBe('forbidden');
      const removed = await deleteKey(t, 'API_KEY', t.tokens.keyedProd, extra);
      expect(removed.status).toBe(403);
      expect(removed.json.error.code).toBe('forbidden');
    }
    expect((await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey })).json.secrets).toEqual(WEB_PROD);
  });

  it('should refuse a write with a read_write keyed token and a wrong master key (401), writing nothing', async () => {
    t = await startScopedTree();
    const put = await putJson(
      t,
      'API_KEY',
      t.tokens.keyedProdWrite,
      { value: 'pl41n-wrong-key' },
      {
        masterKey: WRONG_MASTER_KEY,
      },
    );
    expect(put.status).toBe(401);
    expect(put.json.error.code).toBe('invalid_master_key');
    const removed = await deleteKey(t, 'API_KEY', t.tokens.keyedProdWrite, { masterKey: 'x' });
    expect(removed.status).toBe(401);
    expect((await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey })).json.secrets).toEqual(WEB_PROD);
  });

  it('should refuse a keyed token with a wrong master key (401 invalid_master_key) and count it: 429 past the limit', async () => {
    t = await startScopedTree({ MASTER_KEY_ATTEMPTS_PER_MINUTE: '3' });
    // Malformed keys cost no derivation and do not count.
    for (let i = 0; i < 6; i++) {
      const malformed = await t.get('/secrets', t.tokens.keyedProd, { masterKey: `short${i}` });
      expect(malformed.status).toBe(401);
      expect(malformed.json.error.code).toBe('invalid_master_key');
    }
    for (let i = 0; i < 3; i++) {
      const wrong = await t.get('/secrets', t.tokens.keyedProd, { masterKey: `sfmk_${String(i).padStart(43, 'W')}` });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error.code).toBe('invalid_master_key');
      expectNoPlaintext(wrong.text);
    }
    const limited = await t.get('/secrets', t.tokens.keyedProd, { masterKey: WRONG_MASTER_KEY });
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expectNoPlaintext(limited.text);
    // The right master key waits too (it would be a derivation) ...
    expect((await t.get('/secrets', t.tokens.keyedProd, { masterKey: t.masterKey })).status).toBe(429);
    // ... but the keyed token alone guesses nothing and derives nothing: it still pulls.
    const alone = await t.get('/secrets', t.tokens.keyedProd);
    expect(alone.status, alone.text).toBe(200);
    expect(alone.json.secrets).toEqual(WEB_PROD);
  });
});

describe('scoped keys over the HTTP API: revocation', () => {
  let t: ScopedTree | undefined;
  afterEach(async () => {
    await t?.server.close();
    t = undefined;
  });

  async function expectRefusedEverywhere(tree: ScopedTree, token: string) {
    const { proof } = keyedParts(token);
    for (const [path, as] of [
      ['/secrets', token],
      ['/secrets?format=dotenv', token],
      ['/secrets/API_KEY', token],
      ['/secrets?format=sealed', token],
      ['/secrets?format=sealed', proof],
      ['/secrets', proof],
    ] as const) {
      for (const extra of [{}, { masterKey: tree.masterKey }]) {
        const res = await tree.get(path, as, extra);
        expect(res.status, `${path} ${as.slice(0, 8)}`).toBe(401);
        expect(res.json.error.code).toBe('invalid_token');
        expectNoPlaintext(res.text);
      }
    }
    const put = await putJson(tree, 'API_KEY', token, { value: 'pl41n-after-revoke' });
    expect(put.status).toBe(401);
    expect((await deleteKey(tree, 'API_KEY', token)).status).toBe(401);
  }

  it('should refuse a keyed token at the very next pull once revoked, keyed or sealed, with its key and values cached', async () => {
    t = await startScopedTree();
    const token = t.tokens.keyedProdWrite;
    const { id, proof } = keyedParts(token);
    for (let i = 0; i < 3; i++) {
      expect((await t.get('/secrets', token)).status).toBe(200);
      expect((await t.get('/secrets?format=sealed', proof)).status).toBe(200);
    }
    expect(t.ctx.keystore.holdsToken(id)).toBe(true);
    await t.ctx.tokens.revoke(id, actor);
    await expectRefusedEverywhere(t, token);
    // The key its pulls left in memory is gone, and the others still pull.
    expect(t.ctx.keystore.holdsToken(id)).toBe(false);
    expect((await t.get('/secrets', t.tokens.keyedProd)).json.secrets).toEqual(WEB_PROD);
  });

  it('should refuse a keyed token at the very next pull once the CLI has revoked it while the server runs', async () => {
    t = await startScopedTree();
    const token = t.tokens.keyedStaging;
    const { proof } = keyedParts(token);
    expect((await t.get('/secrets', token)).json.secrets).toEqual(WEB_STAGING);
    expect((await t.get('/secrets?format=sealed', proof)).status).toBe(200);
    const revoked = await runCli(['token', 'revoke', idOf(token)], { dataDir: t.server.dataDir });
    expect(revoked.code, revoked.stderr).toBe(0);
    await expectRefusedEverywhere(t, token);
    expect((await t.get('/secrets', t.tokens.keyedStagingWrite)).json.secrets).toEqual(WEB_STAGING);
  });
});

function putJson(t: ScopedTree, key: string, token: string, body: unknown, extra: { masterKey?: string } = {}) {
  return call(t.server, `/api/v1/secrets/${key}`, { method: 'PUT', token, body, ...extra });
}

function deleteKey(t: ScopedTree, key: string, token: string, extra: { masterKey?: string } = {}) {
  return call(t.server, `/api/v1/secrets/${key}`, { method: 'DELETE', token, ...extra });
}
