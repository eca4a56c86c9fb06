import { scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptionFailed } from '../../src/crypto/aead.js';
import { decryptValue, unwrapDataKey } from '../../src/crypto/envelope.js';
import {
  environmentKey,
  parseKeyedToken,
  tokenKeys,
  tokenProof,
  type TokenKeyBinding,
  unwrapEnvironmentKey,
} from '../../src/crypto/scoped-keys.js';
import { type PullMemory, SealedPullRefused } from '../../src/secrets/sealed-pull.js';
import {
  expectNoPlaintext,
  idOf,
  keyedParts,
  openValues,
  PROD_VALUES,
  SEED,
  startScopedTree,
  type ScopedTree,
  WEB_PROD,
  WEB_STAGING,
} from '../helpers/scoped-tree.js';
import { copyDataDir } from '../helpers/stored-values.js';
import { actor, blobSql, rawSql, readAllStored, runCli, snapshotDatabase } from '../helpers/test-context.js';
import { call } from '../helpers/test-server.js';

interface ProjectRow {
  id: string;
  name: string;
  parent_id: string | null;
  root_id: string;
}
interface TokenRow {
  id: string;
  project_id: string;
  environment_id: string;
  kind: string;
  wrapped_key: Buffer | null;
  revoked_at: string | null;
}
interface SecretRow {
  id: string;
  project_id: string;
  environment_id: string;
  key: string;
}
interface VersionRow {
  secret_id: string;
  version: number;
  ciphertext: Buffer | null;
}
interface RootKeyRow {
  project_id: string;
  kdf: string;
  salt: Buffer;
  wrapped_dek: Buffer;
  key_version: number;
}

/** What an attacker holding a copy of DATA_DIR reads from it. */
async function readCopy(dataDir: string) {
  const rows = await snapshotDatabase(dataDir);
  return {
    projects: rows.projects as ProjectRow[],
    tokens: rows.service_tokens as TokenRow[],
    secrets: rows.secrets as SecretRow[],
    versions: rows.secret_versions as VersionRow[],
    rootKeys: rows.root_keys as RootKeyRow[],
    environments: rows.environments as { id: string; name: string }[],
  };
}

/** A token row's binding, as the server computes it: its project's chain from the root down. */
function bindingOf(copy: Awaited<ReturnType<typeof readCopy>>, row: TokenRow): TokenKeyBinding {
  const byId = new Map(copy.projects.map((p) => [p.id, p]));
  const chain: { id: string; name: string }[] = [];
  for (let p = byId.get(row.project_id); p; p = p.parent_id === null ? undefined : byId.get(p.parent_id)) {
    chain.unshift({ id: p.id, name: p.name });
  }
  return {
    tokenId: row.id,
    rootId: byId.get(row.project_id)!.root_id,
    environmentId: row.environment_id,
    environmentName: copy.environments.find((e) => e.id === row.environment_id)!.name,
    chain,
  };
}

function tryOpen<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DecryptionFailed) return undefined;
    throw error;
  }
}

/** The spellings a key could be stored or logged in (as test/cli/at-rest.test.ts checks). */
function encodings(secret: Uint8Array): Buffer[] {
  const b = Buffer.from(secret);
  return [
    b,
    Buffer.from(b.toString('hex')),
    Buffer.from(b.toString('hex').toUpperCase()),
    Buffer.from(b.toString('base64').replace(/=+$/, '')),
    Buffer.from(b.toString('base64url')),
  ];
}

async function expectInNoFile(dir: string, secrets: Uint8Array[], what: string): Promise<void> {
  const files = await readAllStored(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const { file, content } of files) {
    for (const secret of secrets) {
      for (const encoded of encodings(secret)) {
        expect(content.includes(encoded), `${what} in ${path.basename(file)}`).toBe(false);
      }
    }
  }
}

/** The tree's data key and environment keys, derived from the master key as the product does. */
function treeKeys(copy: Awaited<ReturnType<typeof readCopy>>, rootId: string, masterKey: string) {
  const row = copy.rootKeys.find((r) => r.project_id === rootId)!;
  const { N, r, p } = JSON.parse(row.kdf) as { N: number; r: number; p: number };
  const kek = scryptSync(masterKey, row.salt, 32, { N, r, p, maxmem: 512 * 1024 * 1024 });
  const dek = unwrapDataKey(kek, row.wrapped_dek, { rootId, keyVersion: row.key_version });
  return { kek: new Uint8Array(kek), dek, env: (environmentId: string) => environmentKey(dek, rootId, environmentId) };
}

/** Expects `fn` to refuse with SealedPullRefused, its message matching `reason`. */
function expectRefused(fn: () => unknown, reason: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `accepted, expected: ${reason}`).toBeInstanceOf(SealedPullRefused);
  expect((thrown as Error).message).toMatch(reason);
  expect((thrown as Error).message).toMatch(/nothing from it was used/);
}

describe('scoped keys under attack', () => {
  let t: ScopedTree | undefined;
  afterEach(async () => {
    await t?.server.close();
    t = undefined;
  });

  describe('a copy of DATA_DIR', () => {
    it('should let a staging keyed token plus a full copy of DATA_DIR decrypt no production value', async () => {
      t = await startScopedTree();
      const { tokens, ids, masterKey } = t;
      // Some history too: an older prod version is as secret as the current one.
      await t.ctx.secrets.set(
        { project: 'acme-web', environment: 'prod', key: 'API_KEY', value: 'pl41n-prod-web-api-key-v2' },
        { masterKey: new TextEncoder().encode(masterKey) },
        actor,
      );
      await t.server.close();
      const copyDir = await copyDataDir(t.server.dataDir);
      t = undefined;
      const copy = await readCopy(copyDir);

      // The attacker's own key, the way the token's holder gets it.
      const stolen = parseKeyedToken(tokens.keyedStaging)!;
      const ownRow = copy.tokens.find((row) => row.id === stolen.id)!;
      const ownBinding = bindingOf(copy, ownRow);
      const stagingKey = unwrapEnvironmentKey(stolen.wrappingKey, ownRow.wrapped_key!, ownBinding);

      // Every key the attacker can make from what it holds, against every ciphertext of every row,
      // each under the context of its row and of either environment.
      const candidates = [
        stagingKey,
        stolen.wrappingKey,
        stolen.authKey,
        environmentKey(stagingKey, ids.acme, ids.prod),
        environmentKey(stagingKey, ids.acme, ids.staging),
        environmentKey(stagingKey, ids.other, ids.prod),
      ];
      const secretsById = new Map(copy.secrets.map((s) => [s.id, s]));
      const rootOf = new Map(copy.projects.map((p) => [p.id, p.root_id]));
      const opened: { environmentId: string; projectId: string; value: string }[] = [];
      let tried = 0;
      for (const version of copy.versions) {
        if (version.ciphertext === null) continue;
        const secret = secretsById.get(version.secret_id)!;
        for (const key of candidates) {
          for (const environmentId of new Set([secret.environment_id, ids.prod, ids.staging])) {
            tried += 1;
            const value = tryOpen(() =>
              decryptValue(key, version.ciphertext!, {
                rootId: rootOf.get(secret.project_id)!,
                projectId: secret.project_id,
                environmentId,
                key: secret.key,
                version: version.version,
              }),
            );
            if (value !== undefined)
              opened.push({ environmentId: secret.environment_id, projectId: secret.project_id, value });
          }
        }
      }
      expect(tried).toBeGreaterThan(100);
      // Exactly the staging values of its own tree open, and nothing else.
      expect(opened.every((o) => o.environmentId === ids.staging && rootOf.get(o.projectId) === ids.acme)).toBe(true);
      expect(opened.map((o) => o.value).sort()).toEqual(
        [...Object.values(SEED.acme.staging), ...Object.values(SEED['acme-web'].staging)].sort(),
      );
      for (const value of [...PROD_VALUES, 'pl41n-prod-web-api-key-v2']) {
        expect(opened.map((o) => o.value)).not.toContain(value);
      }

      // Every wrapped key in the copy, under its own binding and the attacker's: only its own opens.
      const unwrapped: string[] = [];
      for (const row of copy.tokens) {
        if (row.wrapped_key === null) continue;
        for (const binding of [bindingOf(copy, row), ownBinding, { ...ownBinding, tokenId: row.id }]) {
          for (const key of [stolen.wrappingKey, stagingKey, stolen.authKey]) {
            if (tryOpen(() => unwrapEnvironmentKey(key, row.wrapped_key!, binding))) unwrapped.push(row.id);
          }
        }
      }
      expect([...new Set(unwrapped)]).toEqual([stolen.id]);
      // And no root's data key opens with anything it holds.
      for (const rootKey of copy.rootKeys) {
        for (const key of candidates) {
          const context = { rootId: rootKey.project_id, keyVersion: rootKey.key_version };
          expect(tryOpen(() => unwrapDataKey(key, rootKey.wrapped_dek, context))).toBeUndefined();
        }
      }

      // What the keys are (known from the master key, which the attacker lacks): the token's key is
      // staging's, prod's is another, and neither, nor the data key, is in any file of the copy.
      const keys = treeKeys(copy, ids.acme, masterKey);
      expect(Buffer.from(stagingKey).equals(Buffer.from(keys.env(ids.staging)))).toBe(true);
      expect(Buffer.from(stagingKey).equals(Buffer.from(keys.env(ids.prod)))).toBe(false);
      await expectInNoFile(copyDir, [keys.dek, keys.kek, keys.env(ids.prod), keys.env(ids.staging)], 'a tree key');
      fs.rmSync(copyDir, { recursive: true, force: true });
    });

    it('should leave a revoked keyed token nothing: its wrapped key in no file of a copy taken after, and 401 everywhere', async () => {
      t = await startScopedTree();
      const victim = t.tokens.keyedStaging;
      const { id, proof } = keyedParts(victim);
      // Used first, so its row and key have been read, cached, and written through the WAL.
      expect((await t.get('/secrets', victim)).json.secrets).toEqual(WEB_STAGING);
      expect((await t.get('/secrets?format=sealed', proof)).status).toBe(200);
      const wrapped = (await readCopy(t.server.dataDir)).tokens.find((row) => row.id === id)!.wrapped_key!;
      expect(wrapped.length).toBeGreaterThan(40);
      // Parts of it as well: the nonce, and the sealed key with its tag.
      const pieces = [wrapped, wrapped.subarray(1, 25), wrapped.subarray(25)];

      await t.ctx.tokens.revoke(id, actor);
      // A copy of the live files, as a backup job or a stolen volume snapshot would take it.
      const liveCopy = await copyDataDir(t.server.dataDir);
      await expectInNoFile(liveCopy, pieces, 'the revoked wrapped key (live copy)');
      const row = (await readCopy(liveCopy)).tokens.find((r) => r.id === id)!;
      expect(row.wrapped_key).toBeNull();
      expect(row.revoked_at).not.toBeNull();

      for (const [p, as] of [
        ['/secrets', victim],
        ['/secrets?format=shell', victim],
        ['/secrets/API_KEY', victim],
        ['/secrets?format=sealed', victim],
        ['/secrets?format=sealed', proof],
        ['/secrets', proof],
      ] as const) {
        for (const extra of [{}, { masterKey: t.masterKey }]) {
          const res = await t.get(p, as, extra);
          expect(res.status, p).toBe(401);
          expect(res.json.error.code).toBe('invalid_token');
          expectNoPlaintext(res.text);
        }
      }
      // The other staging token, whose wrapped key is still there, pulls as before.
      expect((await t.get('/secrets', t.tokens.keyedStagingWrite)).json.secrets).toEqual(WEB_STAGING);

      await t.server.close();
      const dataDir = t.server.dataDir;
      t = undefined;
      await expectInNoFile(dataDir, pieces, 'the revoked wrapped key (after shutdown)');
      fs.rmSync(liveCopy, { recursive: true, force: true });
    });

    it('should leave no trace of a wrapped key the CLI revoked while the server runs, in a live copy', async () => {
      t = await startScopedTree();
      const victim = t.tokens.keyedProd;
      expect((await t.get('/secrets', victim)).json.secrets).toEqual(WEB_PROD);
      const id = idOf(victim);
      const wrapped = (await readCopy(t.server.dataDir)).tokens.find((row) => row.id === id)!.wrapped_key!;
      const revoked = await runCli(['token', 'revoke', id], { dataDir: t.server.dataDir });
      expect(revoked.code, revoked.stderr).toBe(0);
      expect((await t.get('/secrets', victim)).status).toBe(401);
      const liveCopy = await copyDataDir(t.server.dataDir);
      await expectInNoFile(
        liveCopy,
        [wrapped, wrapped.subarray(1, 25), wrapped.subarray(25)],
        'the revoked wrapped key',
      );
      expect((await readCopy(liveCopy)).tokens.find((r) => r.id === id)!.wrapped_key).toBeNull();
      fs.rmSync(liveCopy, { recursive: true, force: true });
    });
  });

  describe('a database altered by hand', () => {
    const hex = blobSql;

    it("should answer 401 invalid_token, never a value, to a keyed token carrying another token's wrapped key", async () => {
      t = await startScopedTree();
      const { tokens } = t;
      const copy = await readCopy(t.server.dataDir);
      const wrappedOf = (token: string) => copy.tokens.find((row) => row.id === idOf(token))!.wrapped_key!;
      // Victim ← donor: same project, other environment; same environment and project; another
      // project of the tree; another tree.
      const swaps = [
        [tokens.keyedStaging, tokens.keyedProd],
        [tokens.keyedProdWrite, tokens.keyedProd],
        [tokens.keyedStagingWrite, tokens.keyedRootProd],
        [tokens.keyedRootProd, tokens.keyedOther],
      ] as const;
      for (const [victim, donor] of swaps) {
        await rawSql(
          t.server.dataDir,
          `update service_tokens set wrapped_key = ${hex(wrappedOf(donor))} where id = '${idOf(victim)}'`,
        );
      }
      for (const [victim] of swaps) {
        for (const p of ['/secrets', '/secrets?format=dotenv', '/secrets/API_KEY', '/secrets/DB_URL']) {
          const res = await t.get(p, victim);
          expect(res.status, `${p} ${res.text}`).toBe(401);
          expect(res.json.error.code).toBe('invalid_token');
          expectNoPlaintext(res.text);
        }
        // The sealed answer carries the swapped key: the client refuses it.
        const sealed = await t.get('/secrets?format=sealed', keyedParts(victim).proof);
        expect(sealed.status).toBe(200);
        expectRefused(() => openValues(sealed.text, victim), /wrapped key does not open/);
      }
      // With the master key the token takes the classic path: its own scope's values, exactly.
      const withMasterKey = await t.get('/secrets', tokens.keyedStaging, { masterKey: t.masterKey });
      expect(withMasterKey.json.secrets).toEqual(WEB_STAGING);
    });

    it('should refuse a keyed token whose row was moved to another environment or project (401)', async () => {
      t = await startScopedTree();
      const { tokens, ids } = t;
      await rawSql(
        t.server.dataDir,
        `update service_tokens set environment_id = '${ids.prod}' where id = '${idOf(tokens.keyedStaging)}';
         update service_tokens set project_id = '${ids.acme}' where id = '${idOf(tokens.keyedStagingWrite)}';`,
      );
      for (const victim of [tokens.keyedStaging, tokens.keyedStagingWrite]) {
        for (const p of ['/secrets', '/secrets/API_KEY', '/secrets/DB_URL']) {
          const res = await t.get(p, victim);
          expect(res.status, `${p} ${res.text}`).toBe(401);
          expect(res.json.error.code).toBe('invalid_token');
          expectNoPlaintext(res.text);
        }
        const sealed = await t.get('/secrets?format=sealed', keyedParts(victim).proof);
        expectRefused(() => openValues(sealed.text, victim), /wrapped key does not open/);
      }
    });

    // Fails at 48d9b12: the token cache (Keystore.tokenKey) is found by token id and wrapping key alone,
    // not by the binding, and resolveWithKey returns the scope's cached values without asking the key
    // for that environment, so the re-pointed token is served prod's decrypted values.
    it('should not serve prod values to a staging keyed token moved to prod in the database while its key is cached', async () => {
      t = await startScopedTree();
      const { tokens, ids } = t;
      // The staging token has pulled (its environment key is cached), and so has a prod app.
      expect((await t.get('/secrets', tokens.keyedStaging)).json.secrets).toEqual(WEB_STAGING);
      expect((await t.get('/secrets', tokens.keyedProd)).json.secrets).toEqual(WEB_PROD);
      // Someone who can write the database, but holds no key, re-points the staging token at prod.
      await rawSql(
        t.server.dataDir,
        `update service_tokens set environment_id = '${ids.prod}' where id = '${idOf(tokens.keyedStaging)}'`,
      );
      for (const p of ['/secrets', '/secrets?format=dotenv', '/secrets/API_KEY']) {
        const res = await t.get(p, tokens.keyedStaging);
        for (const value of PROD_VALUES) expect(res.text, `${p} answered ${res.status}`).not.toContain(value);
        expect(res.status, p).toBe(401);
        expect(res.json.error.code).toBe('invalid_token');
      }
    });

    it('should refuse, never decrypt wrongly, a ciphertext moved to another environment, project or tree', async () => {
      t = await startScopedTree();
      const { tokens, ids, server } = t;
      const versionOf = (project: string, environment: string, key: string) =>
        `(select v.ciphertext from secret_versions v join secrets s on s.id = v.secret_id
           where s.project_id = '${project}' and s.environment_id = '${environment}' and s.key = '${key}')`;
      const target = (project: string, environment: string, key: string) =>
        `secret_id = (select id from secrets where project_id = '${project}' and environment_id = '${environment}' and key = '${key}')`;
      await rawSql(
        server.dataDir,
        // prod → staging, same project and key
        `update secret_versions set ciphertext = ${versionOf(ids.web, ids.prod, 'API_KEY')}
           where ${target(ids.web, ids.staging, 'API_KEY')};
         -- root → child, same environment and key
         update secret_versions set ciphertext = ${versionOf(ids.acme, ids.prod, 'SHARED')}
           where ${target(ids.web, ids.prod, 'SHARED')};
         -- another tree → this one
         update secret_versions set ciphertext = ${versionOf(ids.other, ids.prod, 'OTHER')}
           where ${target(ids.acme, ids.prod, 'DB_URL')};`,
      );
      // acme-web's prod pull meets two moved values: the child's SHARED and the DB_URL it inherits.
      for (const [token, key, moved, refused] of [
        [tokens.keyedStaging, 'API_KEY', SEED['acme-web'].prod.API_KEY, /API_KEY does not decrypt/],
        [tokens.keyedProd, 'SHARED', SEED.acme.prod.SHARED, /(SHARED|DB_URL) does not decrypt/],
        [tokens.keyedRootProd, 'DB_URL', SEED.other.prod.OTHER, /DB_URL does not decrypt/],
      ] as const) {
        for (const p of ['/secrets', '/secrets?format=shell', `/secrets/${key}`]) {
          const logged = server.logLines.length;
          const res = await t.get(p, token);
          // A clear 4xx naming the key whose stored value failed its check; never a value.
          expect(res.status, `${p} ${res.text}`).toBe(409);
          expect(res.json.error.code).toBe('integrity_failed');
          expect(res.json.error.message).toMatch(/failed its integrity check/);
          expect(res.text).not.toContain(moved);
          expectNoPlaintext(res.text);
          const lines = server.logLines.slice(logged).join('');
          expect(lines).not.toMatch(/unhandled error/);
          expect(lines).not.toContain('pl41n');
        }
        const sealed = await t.get('/secrets?format=sealed', keyedParts(token).proof);
        expect(sealed.status).toBe(200);
        expectRefused(() => openValues(sealed.text, token), refused);
      }
    });

    it('should refuse a whole secret row re-pointed to another environment', async () => {
      t = await startScopedTree();
      const { tokens, ids } = t;
      await rawSql(
        t.server.dataDir,
        `delete from secret_versions where secret_id = (select id from secrets
           where project_id = '${ids.web}' and environment_id = '${ids.staging}' and key = 'API_KEY');
         delete from secrets where project_id = '${ids.web}' and environment_id = '${ids.staging}' and key = 'API_KEY';
         update secrets set environment_id = '${ids.staging}'
           where project_id = '${ids.web}' and environment_id = '${ids.prod}' and key = 'API_KEY';`,
      );
      const res = await t.get('/secrets', tokens.keyedStaging);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expectNoPlaintext(res.text);
      const sealed = await t.get('/secrets?format=sealed', keyedParts(tokens.keyedStaging).proof);
      expectRefused(() => openValues(sealed.text, tokens.keyedStaging), /API_KEY does not decrypt/);
    });

    it('should refuse an older version put back as the current one, against what the client saw', async () => {
      t = await startScopedTree();
      const { tokens } = t;
      const { proof } = keyedParts(tokens.keyedProd);
      const first = openValues((await t.get('/secrets?format=sealed', proof)).text, tokens.keyedProd);
      const put = await call(t.server, '/api/v1/secrets/API_KEY', {
        method: 'PUT',
        token: tokens.keyedProdWrite,
        body: { value: 'pl41n-prod-web-api-key-v2' },
      });
      expect(put.json).toEqual({ key: 'API_KEY', version: 2 });
      const second = openValues((await t.get('/secrets?format=sealed', proof)).text, tokens.keyedProd, first.memory);
      expect(second.values.API_KEY).toBe('pl41n-prod-web-api-key-v2');
      // Roll the row back to version 1 by hand: a valid ciphertext, an old value.
      await rawSql(
        t.server.dataDir,
        `update secrets set current_version = 1 where key = 'API_KEY' and project_id = '${t.ids.web}'
           and environment_id = '${t.ids.prod}';
         update root_keys set revision = revision + 1 where project_id = '${t.ids.acme}'`,
      );
      const replayed = await t.get('/secrets?format=sealed', proof);
      expectRefused(
        () => openValues(replayed.text, tokens.keyedProd, second.memory),
        /API_KEY went back from version 2 to 1/,
      );
    });
  });

  describe('malformed and misused credentials', () => {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    /** The same 32 bytes, spelled with other (ignored) low bits in the last character. */
    const nonCanonical = (text: string) => {
      const last = ALPHABET.indexOf(text.at(-1)!);
      const respelled = text.slice(0, -1) + ALPHABET[(last & ~3) | ((last + 1) & 3)];
      expect(Buffer.from(respelled, 'base64url').equals(Buffer.from(text, 'base64url'))).toBe(true);
      expect(respelled).not.toBe(text);
      return respelled;
    };

    it('should answer 401 invalid_token to malformed keyed tokens and proofs, and still serve the real one', async () => {
      t = await startScopedTree();
      const token = t.tokens.keyedProd;
      const { id, authKey, wrappingKey, proof } = keyedParts(token);
      const secret = token.slice(`sfst_k1_${id}_`.length);
      const classicSecret = t.tokens.classicProd.slice(`sfst_${idOf(t.tokens.classicProd)}_`.length);
      const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
      const malformed = {
        short: `sfst_k1_${id}_${secret.slice(0, -1)}`,
        long: `sfst_k1_${id}_${secret}A`,
        nonCanonicalToken: `sfst_k1_${id}_${nonCanonical(secret)}`,
        nonCanonicalProof: `sfzk_${id}_${nonCanonical(b64(authKey))}`,
        keyedPrefixClassicToken: `sfst_k1_${idOf(t.tokens.classicProd)}_${classicSecret}`,
        keyedIdClassicSecret: `sfst_k1_${id}_${classicSecret}`,
        classicPrefixKeyedToken: `sfst_${id}_${secret}`,
        proofWithTokenSecret: `sfzk_${id}_${secret}`,
        proofWithWrappingKey: `sfzk_${id}_${b64(wrappingKey)}`,
        proofOfClassicToken: `sfzk_${idOf(t.tokens.classicProd)}_${classicSecret}`,
        upperCaseId: `sfst_k1_${id.toUpperCase()}_${secret}`,
        otherVersion: `sfst_k2_${id}_${secret}`,
        proofOtherId: proof.replace(id, idOf(t.tokens.keyedStaging)),
        proofShort: proof.slice(0, -1),
        standardBase64: `sfst_k1_${id}_${Buffer.from(secret, 'base64url').toString('base64').replace(/=+$/, '')}`,
      };
      for (const [name, bad] of Object.entries(malformed)) {
        if (name === 'standardBase64' && bad === token) continue; // no - or _ in this secret: the same spelling
        for (const p of ['/secrets', '/secrets?format=sealed', '/secrets/API_KEY']) {
          for (const extra of [{}, { masterKey: t.masterKey }]) {
            const res = await t.get(p, bad, extra);
            expect(res.status, `${name} ${p}`).toBe(401);
            expect(res.json.error.code, name).toBe('invalid_token');
            expectNoPlaintext(res.text);
          }
        }
      }
      expect((await t.get('/secrets', token)).json.secrets).toEqual(WEB_PROD);
      expect(openValues((await t.get('/secrets?format=sealed', proof)).text, token).values).toEqual(WEB_PROD);
    });

    it('should give the server no way to the wrapping key from the proof: not in it, in no log line and no file', async () => {
      t = await startScopedTree();
      const token = t.tokens.keyedStaging;
      const { id, authKey, wrappingKey, proof } = keyedParts(token);
      const secretPart = Buffer.from(token.slice(`sfst_k1_${id}_`.length), 'base64url');
      for (const encoded of [...encodings(wrappingKey), ...encodings(secretPart)]) {
        expect(Buffer.from(proof).includes(encoded)).toBe(false);
      }
      expect(proof).toBe(tokenProof(id, authKey));
      // The authentication key does not lead to the wrapping key by the token's own derivation.
      const fromAuth = tokenKeys(id, authKey);
      expect(Buffer.from(fromAuth.wrappingKey).equals(Buffer.from(wrappingKey))).toBe(false);
      expect(Buffer.from(fromAuth.authKey).equals(Buffer.from(wrappingKey))).toBe(false);

      for (let i = 0; i < 3; i++) {
        const sealed = await t.get('/secrets?format=sealed', proof);
        expect(sealed.status).toBe(200);
        for (const encoded of [...encodings(wrappingKey), ...encodings(authKey), ...encodings(secretPart)]) {
          expect(Buffer.from(sealed.text).includes(encoded)).toBe(false);
        }
      }
      expect(t.ctx.keystore.holdsToken(id)).toBe(false);
      await t.server.close();
      const { dataDir, logLines } = t.server;
      t = undefined;
      const log = Buffer.from(logLines.join('\n'));
      for (const encoded of [...encodings(wrappingKey), ...encodings(authKey), ...encodings(secretPart)]) {
        expect(log.includes(encoded)).toBe(false);
      }
      await expectInNoFile(dataDir, [wrappingKey, authKey, secretPart], 'a part of the keyed token');
    });
  });

  describe('a tampered sealed answer', () => {
    type Json = Record<string, any>;
    const edit = (body: string, change: (answer: Json) => void) => {
      const answer = JSON.parse(body) as Json;
      change(answer);
      return JSON.stringify(answer);
    };

    it('should refuse a truncated, replayed or altered answer with a clear reason', async () => {
      t = await startScopedTree();
      const { tokens, ids } = t;
      const token = tokens.keyedProd;
      const { proof } = keyedParts(token);
      const sealedOf = async (as: string) => {
        const res = await t!.get('/secrets?format=sealed', keyedParts(as).proof);
        expect(res.status).toBe(200);
        return res.text;
      };
      const v1 = await sealedOf(token);
      const first = openValues(v1, token);
      expect(first.values).toEqual(WEB_PROD);
      const put = await call(t.server, '/api/v1/secrets/API_KEY', {
        method: 'PUT',
        token: tokens.keyedProdWrite,
        body: { value: 'pl41n-prod-web-api-key-v2' },
      });
      expect(put.status).toBe(200);
      const v2 = (await t.get('/secrets?format=sealed', proof)).text;
      const memory: PullMemory = openValues(v2, token, first.memory).memory;
      expect(openValues(v2, token, memory).values.API_KEY).toBe('pl41n-prod-web-api-key-v2');
      const open = (body: string, previous?: PullMemory) => () => openValues(body, token, previous);

      // Truncated anywhere.
      for (const length of [0, 1, 40, Math.floor(v2.length / 2), v2.length - 2, v2.length - 1]) {
        expectRefused(open(v2.slice(0, length)), /not complete JSON/);
      }
      // Replayed: the older answer after the newer one was seen.
      expectRefused(open(v1, memory), /API_KEY went back from version 2 to 1/);
      // A version edited downwards, against memory and without it.
      const lowered = edit(v2, (a) => (a.secrets.API_KEY.aad.version = 1));
      expectRefused(open(lowered, memory), /API_KEY went back from version 2 to 1/);
      expectRefused(open(lowered), /API_KEY does not decrypt/);
      // One value's environment, or the whole answer's, changed.
      expectRefused(
        open(edit(v2, (a) => (a.secrets.DB_URL.aad.environment = ids.staging))),
        /DB_URL is bound to another root, environment or key/,
      );
      expectRefused(
        open(
          edit(v2, (a) => {
            a.environment_id = ids.staging;
            a.environment = 'staging';
            for (const s of Object.values(a.secrets) as Json[]) s.aad.environment = ids.staging;
          }),
        ),
        /wrapped key does not open/,
      );
      expectRefused(
        open(
          edit(v2, (a) => {
            a.root = ids.other;
            for (const s of Object.values(a.secrets) as Json[]) s.aad.root = ids.other;
          }),
        ),
        /wrapped key does not open/,
      );
      // Another token's wrapped key: same scope, other environment, other tree.
      for (const donor of [tokens.keyedProdWrite, tokens.keyedStaging, tokens.keyedOther]) {
        const wrapped = (JSON.parse(await sealedOf(donor)) as Json).wrapped_key;
        expectRefused(open(edit(v2, (a) => (a.wrapped_key = wrapped))), /wrapped key does not open/);
      }
      // Another token's whole answer, as it is and relabelled as ours.
      const others = await sealedOf(tokens.keyedProdWrite);
      expectRefused(open(others), /made for another token/);
      expectRefused(open(edit(others, (a) => (a.token = idOf(token)))), /wrapped key does not open/);
      // The chain: a project dropped, reordered, added, or emptied.
      const acme = { id: ids.acme, name: 'acme' };
      const web = { id: ids.web, name: 'acme-web' };
      const other = { id: ids.other, name: 'other' };
      for (const chain of [[web], [acme], [web, acme], [acme, web, other], [other, web], [acme, other]]) {
        expectRefused(open(edit(v2, (a) => (a.chain = chain))), /wrapped key does not open/);
      }
      expectRefused(open(edit(v2, (a) => (a.chain = []))), /project chain is malformed/);
      // A value said to come from the other project of the chain, or from outside it.
      expectRefused(open(edit(v2, (a) => (a.secrets.API_KEY.aad.project = ids.acme))), /API_KEY does not decrypt/);
      expectRefused(
        open(edit(v2, (a) => (a.secrets.API_KEY.aad.project = ids.other))),
        /API_KEY comes from a project outside this token's chain/,
      );
      // Values moved between keys, or their ciphertexts swapped.
      expectRefused(
        open(
          edit(v2, (a) => {
            a.secrets.DB_URL = a.secrets.API_KEY;
          }),
        ),
        /DB_URL does not decrypt with the binding it was sent with/,
      );
      expectRefused(
        open(
          edit(v2, (a) => {
            [a.secrets.DB_URL.ciphertext, a.secrets.MULTI.ciphertext] = [
              a.secrets.MULTI.ciphertext,
              a.secrets.DB_URL.ciphertext,
            ];
          }),
        ),
        /(DB_URL|MULTI) does not decrypt/,
      );
      // A flipped bit, and bytes that are not base64.
      const flipped = edit(v2, (a) => {
        const bytes = Buffer.from(a.secrets.SHARED.ciphertext, 'base64');
        bytes[bytes.length - 1]! ^= 1;
        a.secrets.SHARED.ciphertext = bytes.toString('base64');
      });
      expectRefused(open(flipped), /SHARED does not decrypt/);
      expectRefused(
        open(edit(v2, (a) => (a.secrets.SHARED.ciphertext = '%%%%'))),
        /ciphertext of SHARED is not base64/,
      );
      expectRefused(open(edit(v2, (a) => (a.wrapped_key = 'not base64!'))), /wrapped key is not base64/);
      expectRefused(
        open(edit(v2, (a) => (a.format = 'secretsfly-sealed/2'))),
        /not in the secretsfly-sealed\/1 format/,
      );
      // After all of it, the genuine answer still opens.
      expect(openValues(v2, token, memory).values).toEqual({ ...WEB_PROD, API_KEY: 'pl41n-prod-web-api-key-v2' });
      expectNoPlaintext(v2.replace('pl41n-prod-web-api-key-v2', ''));
    });

    // Fails at 48d9b12: openSealedPull verifies the chain's ids only (deduplicated through a Map), and
    // returns the names the answer carries, for the scope and for each value's source project, unchecked.
    it('should refuse an answer whose project, environment or chain names were altered', async () => {
      t = await startScopedTree();
      const { tokens, ids } = t;
      const token = tokens.keyedProd;
      const body = (await t.get('/secrets?format=sealed', keyedParts(token).proof)).text;
      expect(openValues(body, token).secrets.get('SHARED')!.project).toBe('acme-web');
      const alterations: [string, (a: Json) => void][] = [
        ['the environment named staging', (a) => (a.environment = 'staging')],
        ['the project named acme', (a) => (a.project = 'acme')],
        ['the child renamed as its root', (a) => (a.chain[1].name = 'acme')],
        [
          'the child listed twice, the second time under another name',
          (a) => a.chain.push({ id: ids.web, name: 'acme' }),
        ],
      ];
      const accepted: string[] = [];
      for (const [what, change] of alterations) {
        try {
          const opened = openValues(edit(body, change), token);
          accepted.push(
            `${what}: opened as ${opened.project}/${opened.environment}, SHARED from ${opened.secrets.get('SHARED')!.project}`,
          );
        } catch (error) {
          expect(error).toBeInstanceOf(SealedPullRefused);
        }
      }
      expect(accepted).toEqual([]);
    });
  });
});
