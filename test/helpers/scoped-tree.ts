import { expect } from 'vitest';
import { parseKeyedToken, tokenProof } from '../../src/crypto/scoped-keys.js';
import { openSealedPull, type PullMemory } from '../../src/secrets/sealed-pull.js';
import type { TokenAccess } from '../../src/tokens/token.table.js';
import { actor } from './test-context.js';
import { call, startTestServer, type TestServer } from './test-server.js';

/**
 * One tree for the scoped-key tests: root `acme` and its child `acme-web`, in prod and staging,
 * with values inherited and overridden, and a second root `other`. Every value carries `pl41n`,
 * so "no plaintext in this body" is one substring check.
 */
export const SEED = {
  acme: {
    prod: {
      DB_URL: 'postgres://pl41n-prod-root-db',
      SHARED: 'pl41n-prod-root-shared',
      MULTI: 'pl41n-prod first line\nsecond "line" $HOME \\ #hash ü🔐',
    },
    staging: { DB_URL: 'postgres://pl41n-staging-root-db', SHARED: 'pl41n-staging-root-shared' },
  },
  'acme-web': {
    prod: { SHARED: 'pl41n-prod-web-override', API_KEY: 'pl41n-prod-web-api-key' },
    staging: { API_KEY: 'pl41n-staging-web-api-key' },
  },
  other: { prod: { OTHER: 'pl41n-prod-other-root' }, staging: {} },
} as const;

/** What acme-web resolves to in each environment (the nearest project wins). */
export const WEB_PROD = {
  DB_URL: SEED.acme.prod.DB_URL,
  SHARED: SEED['acme-web'].prod.SHARED,
  MULTI: SEED.acme.prod.MULTI,
  API_KEY: SEED['acme-web'].prod.API_KEY,
};
export const WEB_STAGING = {
  DB_URL: SEED.acme.staging.DB_URL,
  SHARED: SEED.acme.staging.SHARED,
  API_KEY: SEED['acme-web'].staging.API_KEY,
};
export const PROD_VALUES: string[] = Object.values(SEED).flatMap((p) => Object.values(p.prod));
export const STAGING_VALUES: string[] = Object.values(SEED).flatMap((p) => Object.values(p.staging));

export const bytesOf = (text: string) => new TextEncoder().encode(text);

/** A keyed token as its holder sees it: the id, the proof it may send alone, and its wrapping key. */
export function keyedParts(token: string) {
  const parsed = parseKeyedToken(token);
  if (!parsed) throw new Error(`not a keyed token: ${token.slice(0, 12)}…`);
  return {
    id: parsed.id,
    authKey: parsed.authKey,
    wrappingKey: parsed.wrappingKey,
    proof: tokenProof(parsed.id, parsed.authKey),
  };
}

export const idOf = (token: string) => /^sf(?:st_k1|st|zk)_([0-9a-f]{16})_/.exec(token)![1]!;

/** A sealed answer opened as the CLI opens it, as a plain object of values. */
export function openValues(body: string, token: string, previous?: PullMemory) {
  const { id, wrappingKey } = keyedParts(token);
  const opened = openSealedPull(body, { id, wrappingKey }, previous);
  return {
    ...opened,
    values: Object.fromEntries([...opened.secrets].map(([key, secret]) => [key, secret.value])),
  };
}

/** No value of the tree, raw or as JSON would escape it, appears in `text`. */
export function expectNoPlaintext(text: string): void {
  expect(text).not.toContain('pl41n');
  for (const value of [...PROD_VALUES, ...STAGING_VALUES]) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(JSON.stringify(value).slice(1, -1));
  }
}

export type ScopedTree = Awaited<ReturnType<typeof startScopedTree>>;

/** A real server over a fresh DATA_DIR holding the tree above, with nothing cached in its keystore. */
export async function startScopedTree(env: Record<string, string> = {}) {
  const server: TestServer = await startTestServer(env);
  const { ctx } = server;
  try {
    const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    const otherMasterKey = (await ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    const access = { masterKey: bytesOf(masterKey) };
    const otherAccess = { masterKey: bytesOf(otherMasterKey) };
    for (const [project, envs] of Object.entries(SEED)) {
      for (const [environment, values] of Object.entries(envs)) {
        for (const [key, value] of Object.entries(values as Record<string, string>)) {
          await ctx.secrets.set(
            { project, environment, key, value },
            project === 'other' ? otherAccess : access,
            actor,
          );
        }
      }
    }
    const token = async (
      project: string,
      environment: string,
      access: TokenAccess,
      keyed: boolean,
      key = masterKey,
    ): Promise<string> =>
      (
        await ctx.tokens.create(
          { project, environment, access, ...(keyed && { keyed: { masterKey: bytesOf(key) } }) },
          actor,
        )
      ).token;
    const tokens = {
      classicProd: await token('acme-web', 'prod', 'read', false),
      classicStaging: await token('acme-web', 'staging', 'read', false),
      keyedProd: await token('acme-web', 'prod', 'read', true),
      keyedProdWrite: await token('acme-web', 'prod', 'read_write', true),
      keyedStaging: await token('acme-web', 'staging', 'read', true),
      keyedStagingWrite: await token('acme-web', 'staging', 'read_write', true),
      keyedRootProd: await token('acme', 'prod', 'read', true),
      keyedOther: await token('other', 'prod', 'read', true, otherMasterKey),
    };
    const ids = {
      acme: (await ctx.projects.byName('acme')).id,
      web: (await ctx.projects.byName('acme-web')).id,
      other: (await ctx.projects.byName('other')).id,
      prod: (await ctx.environments.byName('prod')).id,
      staging: (await ctx.environments.byName('staging')).id,
    };
    /** Forget every key and decrypted value the process holds, as after a restart. */
    const forget = () => {
      ctx.keystore.seal(ids.acme);
      ctx.keystore.seal(ids.other);
    };
    forget();
    const get = (path: string, token: string, extra: { masterKey?: string; headers?: Record<string, string> } = {}) =>
      call(server, `/api/v1${path}`, { token, ...extra });
    return { server, ctx, masterKey, otherMasterKey, tokens, ids, forget, get };
  } catch (error) {
    await server.close();
    throw error;
  }
}
