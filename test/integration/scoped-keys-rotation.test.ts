import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  environmentKey,
  parseKeyedToken,
  tokenProof,
  unwrapEnvironmentKey,
  type TokenKeyBinding,
} from '../../src/crypto/scoped-keys.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { openSealedPull } from '../../src/secrets/sealed-pull.js';
import { actor, runCli, snapshotDatabase, succeeded, tempDir } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';
import {
  copyDataDir,
  dekOf,
  kekOf,
  readStored,
  type Stored,
  tryDecrypt,
  tryOrUndefined,
  versionName,
} from '../helpers/stored-values.js';

/**
 * Rotation of a tree whose values are under environment keys, with keyed tokens out in the field:
 * a plain rotation re-wraps the same data key (keyed tokens keep working, classic ones follow the
 * new master key); `--reencrypt` replaces the data key, so every keyed token of the tree is revoked,
 * and nothing an attacker kept from before (old master key, keyed token, its environment key)
 * opens anything written afterwards.
 */

const WEB_PROD = { API_KEY: 'web-prod-2', ROOT_ONLY: 'root-prod' };
const ACME_STAGING = { ROOT_STAGING: 'root-staging' };

describe('rotation with keyed tokens', () => {
  let server: TestServer;
  let acmeKey: string;
  let otherKey: string;
  const tokens = {} as Record<'webProd' | 'acmeStaging' | 'other' | 'classic' | 'revokedEarlier', string>;
  const ids = {} as Record<keyof typeof tokens, string>;
  const work = tempDir('secretsfly-keys-');
  let files = 0;
  const keyFile = (key: string) => {
    const file = path.join(work, `${(files += 1)}.key`);
    fs.writeFileSync(file, key);
    return file;
  };

  beforeEach(async () => {
    server = await startTestServer();
    const { ctx } = server;
    acmeKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    otherKey = (await ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    const acme = () => ({ masterKey: masterKeyBytes(acmeKey) });
    const set = (project: string, environment: string, key: string, value: string, masterKey = acme()) =>
      ctx.secrets.set({ project, environment, key, value }, masterKey, actor);
    await set('acme', 'prod', 'ROOT_ONLY', 'root-prod');
    await set('acme', 'staging', 'ROOT_STAGING', 'root-staging');
    await set('acme-web', 'prod', 'API_KEY', 'web-prod-1');
    await set('acme-web', 'prod', 'API_KEY', 'web-prod-2');
    await set('acme-web', 'staging', 'API_KEY', 'web-staging');
    await set('other', 'prod', 'OTHER', 'other-prod', { masterKey: masterKeyBytes(otherKey) });

    const create = async (
      name: keyof typeof tokens,
      project: string,
      environment: string,
      access: 'read' | 'read_write',
      keyed?: { masterKey: Uint8Array },
    ) => {
      const created = await ctx.tokens.create({ project, environment, access, name, keyed }, actor);
      tokens[name] = created.token;
      ids[name] = created.view.id;
    };
    await create('webProd', 'acme-web', 'prod', 'read_write', acme());
    await create('acmeStaging', 'acme', 'staging', 'read', acme());
    await create('revokedEarlier', 'acme-web', 'prod', 'read', acme());
    await create('other', 'other', 'prod', 'read', { masterKey: masterKeyBytes(otherKey) });
    await create('classic', 'acme-web', 'prod', 'read');
    await ctx.tokens.revoke(ids.revokedEarlier, actor);
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  });

  const values = (body: { secrets: Record<string, string> }) => body.secrets;

  /** The keyed token's sealed answer, opened on the client side with its wrapping key only. */
  async function sealedValues(token: string, presented = token) {
    const answer = await call(server, '/api/v1/secrets?format=sealed', { token: presented });
    expect(answer.status, answer.text).toBe(200);
    const { id, wrappingKey } = parseKeyedToken(token)!;
    const opened = openSealedPull(answer.text, { id, wrappingKey }, undefined);
    return Object.fromEntries([...opened.secrets].map(([key, s]) => [key, s.value]));
  }

  const proofOf = (token: string) => {
    const { id, authKey } = parseKeyedToken(token)!;
    return tokenProof(id, authKey);
  };

  async function expectKeyedTokensWork() {
    const webProd = await call(server, '/api/v1/secrets', { token: tokens.webProd });
    expect(webProd.status, webProd.text).toBe(200);
    expect(values(webProd.json)).toEqual(WEB_PROD);
    expect(await sealedValues(tokens.webProd)).toEqual(WEB_PROD);
    expect(await sealedValues(tokens.webProd, proofOf(tokens.webProd))).toEqual(WEB_PROD);
    expect(values((await call(server, '/api/v1/secrets', { token: tokens.acmeStaging })).json)).toEqual(ACME_STAGING);
    expect(await sealedValues(tokens.acmeStaging)).toEqual(ACME_STAGING);
  }

  describe('plain rotation', () => {
    it('should keep keyed tokens working, plain and sealed, and make classic ones need the new master key', async () => {
      await expectKeyedTokensWork();
      // In this process (the keystore held their environment keys), then from the CLI in another one.
      const rotated = await server.ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes(acmeKey), reencrypt: false },
        actor,
      );
      expect(rotated.revokedTokens).toEqual([]);
      await expectKeyedTokensWork();
      const fromCli = succeeded(
        await runCli(['rotate', 'acme', '--master-key-file', keyFile(rotated.masterKey!)], {
          dataDir: server.dataDir,
        }),
      );
      const newKey = fromCli.stdout.trim();
      await expectKeyedTokensWork();

      // A keyed token still writes, and its write is read by everyone.
      const written = await call(server, '/api/v1/secrets/API_KEY', {
        method: 'PUT',
        token: tokens.webProd,
        body: { value: 'web-prod-3' },
      });
      expect(written.status, written.text).toBe(200);
      expect(values((await call(server, '/api/v1/secrets', { token: tokens.webProd })).json).API_KEY).toBe(
        'web-prod-3',
      );

      for (const old of [acmeKey, rotated.masterKey!]) {
        const refused = await call(server, '/api/v1/secrets', { token: tokens.classic, masterKey: old });
        expect(refused.status).toBe(401);
        expect(refused.json.error.code).toBe('invalid_master_key');
      }
      const classic = await call(server, '/api/v1/secrets', { token: tokens.classic, masterKey: newKey });
      expect(classic.status, classic.text).toBe(200);
      expect(values(classic.json)).toEqual({ ...WEB_PROD, API_KEY: 'web-prod-3' });

      const list = await server.ctx.tokens.list();
      expect(list.filter((t) => t.revoked_at !== null).map((t) => t.id)).toEqual([ids.revokedEarlier]);
    });
  });

  describe('rotate --reencrypt', () => {
    /** Every way a keyed token can be presented to every route, with and without a master key. */
    function attempts(token: string, masterKey: string) {
      const paths = [
        '/api/v1/secrets',
        '/api/v1/secrets?format=dotenv',
        '/api/v1/secrets?format=shell',
        '/api/v1/secrets?include=metadata',
        '/api/v1/secrets?format=sealed',
        '/api/v1/secrets/API_KEY',
      ];
      const presented = [token, proofOf(token)];
      const list: { label: string; path: string; options: Parameters<typeof call>[2] }[] = [];
      for (const t of presented) {
        for (const withKey of [false, true]) {
          const base = { token: t, ...(withKey && { masterKey }) };
          const label = `${t.startsWith('sfzk_') ? 'proof' : 'token'}${withKey ? '+master key' : ''}`;
          for (const p of paths) list.push({ label: `${label} GET ${p}`, path: p, options: base });
          list.push({
            label: `${label} PUT`,
            path: '/api/v1/secrets/API_KEY',
            options: { ...base, method: 'PUT', body: { value: 'must-not-land' } },
          });
          list.push({
            label: `${label} DELETE`,
            path: '/api/v1/secrets/API_KEY',
            options: { ...base, method: 'DELETE' },
          });
        }
      }
      return list;
    }

    it('should revoke every keyed token of the tree, and only those, everywhere at once', async () => {
      // The server holds their environment keys (and decrypted values) from these pulls.
      await expectKeyedTokensWork();
      const before = await readStored(server.dataDir);
      const rotated = await runCli(['--json', 'rotate', 'acme', '--reencrypt', '--master-key-file', keyFile(acmeKey)], {
        dataDir: server.dataDir,
      });
      succeeded(rotated);
      const newKey = (JSON.parse(rotated.stdout) as { master_key: string }).master_key;

      for (const name of ['webProd', 'acmeStaging'] as const) {
        for (const attempt of attempts(tokens[name], newKey)) {
          const answer = await call(server, attempt.path, attempt.options);
          expect(answer.status, `${name} ${attempt.label}: ${answer.text}`).toBe(401);
          expect(answer.json?.error?.code, `${name} ${attempt.label}`).toBe('invalid_token');
        }
      }
      // Nothing was written by those attempts.
      const classic = await call(server, '/api/v1/secrets', { token: tokens.classic, masterKey: newKey });
      expect(classic.status, classic.text).toBe(200);
      expect(values(classic.json)).toEqual(WEB_PROD);
      // Another tree's keyed token is not touched.
      const other = await call(server, '/api/v1/secrets', { token: tokens.other });
      expect(other.status, other.text).toBe(200);
      expect(values(other.json)).toEqual({ OTHER: 'other-prod' });
      expect(await sealedValues(tokens.other)).toEqual({ OTHER: 'other-prod' });

      // token list, from the service and from the CLI, shows them revoked.
      const revokedAt = Object.fromEntries((await server.ctx.tokens.list()).map((t) => [t.id, t.revoked_at]));
      expect(revokedAt[ids.webProd]).not.toBeNull();
      expect(revokedAt[ids.acmeStaging]).not.toBeNull();
      expect(revokedAt[ids.other]).toBeNull();
      expect(revokedAt[ids.classic]).toBeNull();
      const listed = JSON.parse(
        succeeded(await runCli(['--json', 'token', 'list'], { dataDir: server.dataDir })).stdout,
      ) as { id: string; revoked_at: string | null }[];
      expect(Object.fromEntries(listed.map((t) => [t.id, t.revoked_at]))).toEqual(revokedAt);
      // A token revoked before keeps the time it was revoked at.
      const earlier = before.tokens.find((t) => t.id === ids.revokedEarlier)!;
      expect(revokedAt[ids.revokedEarlier]).toBe(earlier.revoked_at);

      // Their wrapped keys are gone from the database; the other tree's is still there.
      const after = await readStored(server.dataDir);
      const wrapped = Object.fromEntries(after.tokens.map((t) => [t.id, t.wrapped_key ?? null]));
      expect(wrapped[ids.webProd]).toBeNull();
      expect(wrapped[ids.acmeStaging]).toBeNull();
      expect(wrapped[ids.other]).not.toBeNull();

      await server.ctx.audit.flush();
      const events = (await snapshotDatabase(server.dataDir)).audit_events as { action: string; details: string }[];
      const revocations = events
        .filter((e) => e.action === 'token_revoked')
        .map((e) => JSON.parse(e.details) as { token_id: string; reason?: string });
      expect(
        revocations
          .filter((e) => e.reason === 'reencrypted')
          .map((e) => e.token_id)
          .sort(),
      ).toEqual([ids.webProd, ids.acmeStaging].sort());
    });

    it('should return the keyed tokens it revoked, and new keyed tokens should work again', async () => {
      const rotated = await server.ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes(acmeKey), reencrypt: true },
        actor,
      );
      expect([...rotated.revokedTokens].sort()).toEqual([ids.webProd, ids.acmeStaging].sort());
      const fresh = await server.ctx.tokens.create(
        {
          project: 'acme-web',
          environment: 'prod',
          access: 'read',
          keyed: { masterKey: masterKeyBytes(rotated.masterKey!) },
        },
        actor,
      );
      expect(values((await call(server, '/api/v1/secrets', { token: fresh.token })).json)).toEqual(WEB_PROD);
      expect(await sealedValues(fresh.token)).toEqual(WEB_PROD);
    });

    it('should tell the operator, from the CLI, which keyed tokens it revoked', async () => {
      const rotated = succeeded(
        await runCli(['rotate', 'acme', '--reencrypt', '--master-key-file', keyFile(acmeKey)], {
          dataDir: server.dataDir,
        }),
      );
      // Their deployments will get 401 from now on: the command that did it must say so.
      const output = rotated.stdout + rotated.stderr;
      expect(output).toContain(ids.webProd);
      expect(output).toContain(ids.acmeStaging);
      expect(output).not.toContain(ids.other);
    });

    it('should leave nothing kept from before (master key, keyed token, its environment key) able to open a value written after', async () => {
      const { ctx } = server;
      await expectKeyedTokensWork();
      // The attacker's haul before the re-encryption: a copy of DATA_DIR, the master key, the keyed
      // token, and what they give.
      const oldCopy = await copyDataDir(server.dataDir);
      const old = await readStored(oldCopy);
      const acmeRoot = rootNamed(old, 'acme');
      const oldKek = kekOf(acmeKey, acmeRoot);
      const oldDek = dekOf(acmeKey, acmeRoot);
      const { id, wrappingKey, authKey } = parseKeyedToken(tokens.webProd)!;
      const webProd = old.tokens.find((t) => t.id === id)!;
      const binding: TokenKeyBinding = {
        tokenId: id,
        rootId: acmeRoot.project_id,
        environmentId: webProd.environment_id,
        environmentName: 'prod',
        chain: [acmeRoot.project_id, webProd.project_id].map((pid) => ({
          id: pid,
          name: old.projects.find((p) => p.id === pid)!.name,
        })),
      };
      const tokenEnvKey = unwrapEnvironmentKey(wrappingKey, webProd.wrapped_key!, binding);
      const envKeys = old.environments.map((e) => environmentKey(oldDek, acmeRoot.project_id, e.id));
      expect(Buffer.from(tokenEnvKey)).toEqual(
        Buffer.from(environmentKey(oldDek, acmeRoot.project_id, webProd.environment_id)),
      );
      const oldMaterial: [string, Uint8Array][] = [
        ['old KEK', oldKek],
        ['old data key', oldDek],
        ...envKeys.map(
          (key, i) => [`old environment key of ${old.environments[i]!.name}`, key] as [string, Uint8Array],
        ),
        ["the keyed token's environment key", tokenEnvKey],
        ["the keyed token's wrapping key", wrappingKey],
        ["the keyed token's authentication key", authKey],
      ];
      // Positive control: with it, the old copy opens.
      const opensOld = old.versions.filter((v) => oldMaterial.some(([, key]) => tryDecrypt(key, v) !== undefined));
      expect(opensOld.map(versionName)).toEqual(
        old.versions.filter((v) => v.project !== 'other' && v.ciphertext !== null).map(versionName),
      );

      const rotated = await ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes(acmeKey), reencrypt: true },
        actor,
      );
      const newKey = rotated.masterKey!;
      // New values after the re-encryption: through the API (classic token, new master key) and the
      // service, in the keyed token's own scope and elsewhere in the tree.
      const writer = (
        await ctx.tokens.create({ project: 'acme-web', environment: 'prod', access: 'read_write' }, actor)
      ).token;
      const put = (key: string, value: string) =>
        call(server, `/api/v1/secrets/${key}`, { method: 'PUT', token: writer, masterKey: newKey, body: { value } });
      expect((await put('API_KEY', 'written-after-reencrypt')).status).toBe(200);
      expect((await put('NEW_AFTER', 'new-key-after-reencrypt')).status).toBe(200);
      await ctx.secrets.set(
        { project: 'acme', environment: 'staging', key: 'ROOT_STAGING', value: 'staging-after-reencrypt' },
        { masterKey: masterKeyBytes(newKey) },
        actor,
      );
      // The old keyed token cannot write either.
      expect(
        (
          await call(server, '/api/v1/secrets/API_KEY', {
            method: 'PUT',
            token: tokens.webProd,
            body: { value: 'x' },
          })
        ).status,
      ).toBe(401);

      const newCopy = await copyDataDir(server.dataDir);
      const now = await readStored(newCopy);
      const newRoot = rootNamed(now, 'acme');
      const newDek = dekOf(newKey, newRoot);
      const writtenAfter = now.versions.filter(
        (v) =>
          (v.project === 'acme-web' && v.environment === 'prod' && v.key === 'API_KEY' && v.version === 3) ||
          v.key === 'NEW_AFTER' ||
          (v.key === 'ROOT_STAGING' && v.version === 2),
      );
      expect(writtenAfter).toHaveLength(3);
      // Positive control: the new master key opens the new values.
      expect(
        writtenAfter.map((v) => tryDecrypt(environmentKey(newDek, newRoot.project_id, v.environment_id), v)).sort(),
      ).toEqual(['new-key-after-reencrypt', 'staging-after-reencrypt', 'written-after-reencrypt']);

      // Every ciphertext row of the new copy, with every piece of old material: nothing opens.
      for (const v of now.versions.filter((v) => v.ciphertext !== null)) {
        for (const [what, key] of oldMaterial) {
          expect(tryDecrypt(key, v), `${what} opens ${versionName(v)}`).toBeUndefined();
        }
      }
      // The old master key unwraps no data key of the new copy; the old token unwraps no stored key.
      for (const root of now.roots) expect(tryOrUndefined(() => dekOf(acmeKey, root))).toBeUndefined();
      for (const t of now.tokens.filter((t) => t.wrapped_key)) {
        const tryBinding = { ...binding, tokenId: t.id };
        expect(tryOrUndefined(() => unwrapEnvironmentKey(wrappingKey, t.wrapped_key!, tryBinding))).toBeUndefined();
        expect(tryOrUndefined(() => unwrapEnvironmentKey(wrappingKey, t.wrapped_key!, binding))).toBeUndefined();
      }
      expect(now.tokens.find((t) => t.id === id)!.wrapped_key).toBeNull();
      fs.rmSync(oldCopy, { recursive: true, force: true });
      fs.rmSync(newCopy, { recursive: true, force: true });
    });
  });
});

function rootNamed(stored: Stored, name: string) {
  const project = stored.projects.find((p) => p.name === name)!;
  return stored.roots.find((r) => r.project_id === project.id)!;
}
