import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { IntegrityFailed, KeyRotatedMeanwhile } from '../../src/errors.js';
import { createKdf, type Kdf } from '../../src/crypto/kdf.js';
import { parseKeyedToken } from '../../src/crypto/scoped-keys.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { createContext } from '../../src/main.js';
import { openSealedPull } from '../../src/secrets/sealed-pull.js';
import { secretRepository } from '../../src/secrets/secret.repository.js';
import { actor, FAST_KDF, rawSql, runCli, snapshotDatabase, succeeded, tempDir } from '../helpers/test-context.js';
import { call } from '../helpers/test-server.js';
import {
  copyFixture,
  dekOf,
  FIXTURE,
  fixture,
  readStored,
  serveDataDir,
  type Stored,
  tryDecrypt,
  tryOrUndefined,
  valueKeyOf,
  versionName,
} from '../helpers/stored-values.js';

/**
 * A database written by release 0.1.0 (test/fixtures/release-0.1.0, see its README) under the scoped
 * keys release: it must migrate without a key, keep serving its classic tokens, and convert to
 * environment keys all or nothing. Every test works on its own copy of the fixture.
 */

/** Every stored version of the fixture and its value (README.md); GONE@2 is a deletion. */
const STORED: Record<string, string | null> = {
  'acme/prod/DATABASE_URL@1': 'postgres://prod-db/acme',
  'acme/prod/DATABASE_URL@2': 'postgres://prod-db-2/acme',
  'acme/prod/MULTI@1': 'multi\nline "quoted" $x',
  'acme/prod/SHARED@1': 'root-prod-shared',
  'acme/staging/DATABASE_URL@1': 'postgres://staging-db/acme',
  'acme-web/prod/GONE@1': 'to-be-deleted',
  'acme-web/prod/GONE@2': null,
  'acme-web/prod/SHARED@1': 'web-prod-override',
  'acme-web/staging/API_KEY@1': 'staging-api-key',
  'other/prod/OTHER_SECRET@1': 'other-root-value',
};
const ACME_CIPHERTEXTS = Object.entries(STORED).filter(([name, value]) => value !== null && !name.startsWith('other/'));

/** What each classic fixture token pulls: acme-web's scope with what it inherits from acme. */
const PULLED = {
  prod: { DATABASE_URL: 'postgres://prod-db-2/acme', MULTI: 'multi\nline "quoted" $x', SHARED: 'web-prod-override' },
  staging: { DATABASE_URL: 'postgres://staging-db/acme', API_KEY: 'staging-api-key' },
};

const rootOf = (stored: Stored, name: string) => {
  const project = stored.projects.find((p) => p.name === name)!;
  return stored.roots.find((r) => r.project_id === project.id)!;
};

/**
 * Opens every stored version with `masterKey` the way the stored scheme of its root says (root key
 * or environment keys), and names each with its value (null: a deletion, or a version that did not
 * open, which the expectations then show).
 */
async function openAll(dataDir: string, masterKey: string): Promise<Record<string, string | null>> {
  const stored = await readStored(dataDir);
  // A root this master key does not open (another root after a rotation) shows all its versions as null.
  const deks = new Map(stored.roots.map((root) => [root.project_id, tryOrUndefined(() => dekOf(masterKey, root))]));
  return Object.fromEntries(
    stored.versions.map((v) => {
      const root = stored.roots.find((r) => r.project_id === v.root_id)!;
      const dek = deks.get(v.root_id);
      const value = dek && tryDecrypt(valueKeyOf(dek, root, v.environment_id), v);
      return [versionName(v), value ?? null];
    }),
  );
}

const sha256File = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('a database from release 0.1.0 under scoped keys', () => {
  const fixtureDb = path.join(FIXTURE, 'datadir/secretsfly.db');
  const fixtureHash = sha256File(fixtureDb);
  const cleanup: (() => Promise<void> | void)[] = [];
  const masterKey = () => ({ masterKey: masterKeyBytes(fixture.masterKey) });

  /** A context over a fresh copy of the fixture, as the server and the CLI build one (migrated on open). */
  async function openCopy(options: { kdf?: Kdf } = {}) {
    const dataDir = copyFixture();
    const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, AVAILABLE_ENVIRONMENTS: 'prod,staging' }), {
      kdfParams: FAST_KDF,
      ...options,
    });
    cleanup.push(async () => {
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    return Object.assign(ctx, { dataDir });
  }

  async function serveCopy(dataDir = copyFixture()) {
    const server = await serveDataDir(dataDir);
    cleanup.push(async () => {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    return server;
  }

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  afterAll(() => {
    // No test may write to the fixture itself: it is what users have, as the old release left it.
    expect(sha256File(fixtureDb)).toBe(fixtureHash);
    expect(fs.readdirSync(path.dirname(fixtureDb))).toEqual(['secretsfly.db']);
  });

  it('should hold what its README says, under the one data key of each root (the old release)', async () => {
    const dataDir = copyFixture();
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    expect(await openAll(dataDir, fixture.masterKey)).toEqual(STORED);
    expect((await readStored(dataDir)).roots.map((r) => r.value_keys)).toEqual([undefined, undefined]);
  });

  describe('migration', () => {
    it('should add the scoped-keys columns, keep every root on its root key, and change nothing else', async () => {
      const dataDir = copyFixture();
      cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      const before = await snapshotDatabase(dataDir);
      // Opening the database is what migrates it: the server, the CLI and this context all do.
      const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, AVAILABLE_ENVIRONMENTS: 'prod,staging' }), {
        kdfParams: FAST_KDF,
      });
      await ctx.close();
      const after = await snapshotDatabase(dataDir);

      expect((after.kysely_migration as { name: string }[]).map((m) => m.name)).toEqual([
        ...(before.kysely_migration as { name: string }[]).map((m) => m.name),
        '2026-11-25T0000-scoped-keys',
        // Recorded on SQLite too, where it creates nothing (PostgreSQL's shared tables).
        '2026-11-26T0000-instances',
        // New tables and indexes; the two columns of typed secrets, null for every old version.
        '2026-11-28T0000-host-held',
        '2026-11-28T0100-access-log',
        '2026-11-28T0200-typed-secrets',
        '2026-11-28T0300-audit-actor-at-indexes',
      ]);
      expect(after.secret_versions).toEqual(
        before.secret_versions!.map((row) => ({ ...(row as object), type: null, metadata: null })),
      );
      expect(after.root_keys).toEqual(before.root_keys!.map((row) => ({ ...(row as object), value_keys: 'root' })));
      expect(after.service_tokens).toEqual(
        before.service_tokens!.map((row) => ({ ...(row as object), kind: 'classic', wrapped_key: null })),
      );
      for (const table of Object.keys(before).filter(
        (name) => !['kysely_migration', 'root_keys', 'service_tokens', 'secret_versions'].includes(name),
      )) {
        expect(after[table], table).toEqual(before[table]);
      }
      // Still the values of the README, still under each root's data key.
      expect(await openAll(dataDir, fixture.masterKey)).toEqual(STORED);
    });
  });

  describe('classic tokens and the CLI after the migration', () => {
    it('should serve both fixture tokens exactly the README values, with the master key', async () => {
      const server = await serveCopy();
      for (const [token, environment] of [
        [fixture.tokenProd, 'prod'],
        [fixture.tokenStaging, 'staging'],
      ] as const) {
        const pulled = await call(server, '/api/v1/secrets', { token, masterKey: fixture.masterKey });
        expect(pulled.status, pulled.text).toBe(200);
        expect(pulled.json).toEqual({ project: 'acme-web', environment, secrets: PULLED[environment] });
        // Without the master key a classic token opens nothing.
        expect((await call(server, '/api/v1/secrets', { token })).status).toBe(401);
      }
      const one = await call(server, '/api/v1/secrets/MULTI', {
        token: fixture.tokenProd,
        masterKey: fixture.masterKey,
      });
      expect(one.json).toMatchObject({ key: 'MULTI', value: PULLED.prod.MULTI, version: 1, project: 'acme' });
      expect((await readStored(server.dataDir)).roots.map((r) => r.value_keys)).toEqual(['root', 'root']);
    });

    it('should read them with `secret get` from the CLI', async () => {
      const dataDir = copyFixture();
      cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      const get = async (project: string, env: string, key: string) =>
        succeeded(
          await runCli(['secret', 'get', project, env, key, '--master-key-file', fixture.masterKeyFile], { dataDir }),
        ).stdout;
      expect(await get('acme-web', 'prod', 'SHARED')).toBe('web-prod-override\n');
      expect(await get('acme-web', 'prod', 'MULTI')).toBe(`${PULLED.prod.MULTI}\n`);
      expect(await get('acme-web', 'staging', 'API_KEY')).toBe('staging-api-key\n');
      expect(await get('acme', 'prod', 'DATABASE_URL')).toBe('postgres://prod-db-2/acme\n');
      expect(await get('other', 'prod', 'OTHER_SECRET')).toBe('other-root-value\n');
      expect((await readStored(dataDir)).roots.map((r) => r.value_keys)).toEqual(['root', 'root']);
    });
  });

  describe('conversion on the first keyed token', () => {
    it('should convert acme only, keep every version (history included) and serve every token', async () => {
      const server = await serveCopy();
      const { ctx } = server;
      // Pulls before the conversion fill the server's caches of decrypted values and of the data key.
      for (const token of [fixture.tokenProd, fixture.tokenStaging]) {
        expect((await call(server, '/api/v1/secrets', { token, masterKey: fixture.masterKey })).status).toBe(200);
      }
      const before = await readStored(server.dataDir);

      const created = await ctx.tokens.create(
        { project: 'acme-web', environment: 'prod', access: 'read', keyed: masterKey() },
        actor,
      );
      expect(created.token).toMatch(/^sfst_k1_[0-9a-f]{16}_/);
      expect(created.view.kind).toBe('keyed');

      const after = await readStored(server.dataDir);
      expect(rootOf(after, 'acme').value_keys).toBe('environment');
      expect(rootOf(after, 'other').value_keys).toBe('root');
      // Same data key, same key version: only how values are encrypted changed.
      expect(rootOf(after, 'acme').wrapped_dek).toEqual(rootOf(before, 'acme').wrapped_dek);
      expect(rootOf(after, 'acme').key_version).toBe(1);
      expect(rootOf(after, 'other')).toEqual(rootOf(before, 'other'));

      // Every version of acme, history and deletions included, opens to the same value under its
      // environment key, and none any more under the root's data key.
      expect(await openAll(server.dataDir, fixture.masterKey)).toEqual(STORED);
      const dek = dekOf(fixture.masterKey, rootOf(after, 'acme'));
      for (const v of after.versions.filter((v) => v.project !== 'other' && v.ciphertext !== null)) {
        expect(tryDecrypt(dek, v), versionName(v)).toBeUndefined();
      }
      expect(after.versions.filter((v) => v.project !== 'other' && v.ciphertext !== null)).toHaveLength(
        ACME_CIPHERTEXTS.length,
      );
      const otherBefore = before.versions.filter((v) => v.project === 'other');
      expect(after.versions.filter((v) => v.project === 'other')).toEqual(otherBefore);
      // The deletion stayed a deletion.
      expect(after.versions.find((v) => versionName(v) === 'acme-web/prod/GONE@2')!.ciphertext).toBeNull();

      await ctx.audit.flush();
      const events = (await snapshotDatabase(server.dataDir)).audit_events as { action: string; details: string }[];
      const converted = events.filter((e) => e.action === 'environment_keys');
      expect(converted).toHaveLength(1);
      expect(JSON.parse(converted[0]!.details)).toEqual({ versions: ACME_CIPHERTEXTS.length });

      // The classic tokens, with the master key, as before.
      for (const [token, environment] of [
        [fixture.tokenProd, 'prod'],
        [fixture.tokenStaging, 'staging'],
      ] as const) {
        const pulled = await call(server, '/api/v1/secrets', { token, masterKey: fixture.masterKey });
        expect(pulled.status, pulled.text).toBe(200);
        expect(pulled.json.secrets).toEqual(PULLED[environment]);
      }
      // The keyed token alone: its own scope, then the sealed form opened on the client side.
      const keyed = await call(server, '/api/v1/secrets', { token: created.token });
      expect(keyed.status, keyed.text).toBe(200);
      expect(keyed.json).toEqual({ project: 'acme-web', environment: 'prod', secrets: PULLED.prod });
      const sealed = await call(server, '/api/v1/secrets?format=sealed', { token: created.token });
      expect(sealed.status, sealed.text).toBe(200);
      const { id, wrappingKey } = parseKeyedToken(created.token)!;
      const opened = openSealedPull(sealed.text, { id, wrappingKey }, undefined);
      expect(Object.fromEntries([...opened.secrets].map(([k, s]) => [k, s.value]))).toEqual(PULLED.prod);
      // other was not touched and still opens with the master key.
      expect(
        (await ctx.secrets.get({ project: 'other', environment: 'prod', key: 'OTHER_SECRET' }, masterKey())).value,
      ).toBe('other-root-value');

      // A second keyed token of the tree converts nothing again.
      const second = await ctx.tokens.create(
        { project: 'acme', environment: 'staging', access: 'read', keyed: masterKey() },
        actor,
      );
      expect((await readStored(server.dataDir)).versions).toEqual(after.versions);
      expect((await call(server, '/api/v1/secrets', { token: second.token })).json.secrets).toEqual({
        DATABASE_URL: 'postgres://staging-db/acme',
      });
      // And the CLI reads the converted tree with the master key.
      const cli = await runCli(
        ['secret', 'get', 'acme-web', 'prod', 'MULTI', '--master-key-file', fixture.masterKeyFile],
        { dataDir: server.dataDir },
      );
      expect(succeeded(cli).stdout).toBe(`${PULLED.prod.MULTI}\n`);

      // History is usable through the product too: roll back to a version written by the old release,
      // and restore the deleted one.
      const rollback = (project: string, key: string, version: number) =>
        ctx.secrets.rollback({ project, environment: 'prod', key, version }, masterKey(), actor);
      await rollback('acme', 'DATABASE_URL', 1);
      await rollback('acme-web', 'GONE', 1);
      const rolledBack = await call(server, '/api/v1/secrets', { token: created.token });
      expect(rolledBack.json.secrets).toEqual({
        ...PULLED.prod,
        DATABASE_URL: 'postgres://prod-db/acme',
        GONE: 'to-be-deleted',
      });
    });

    /** Flips one byte of the tag of the version the conversion reaches last, so it fails part-way. */
    async function corruptLastCiphertext(ctx: Awaited<ReturnType<typeof openCopy>>) {
      const acme = await ctx.projects.byName('acme');
      const rows = await secretRepository.listTreeCiphertexts(ctx.database.db, acme.id);
      expect(rows.length).toBe(ACME_CIPHERTEXTS.length);
      const last = rows.at(-1)!;
      const corrupted = Buffer.from(last.ciphertext!);
      corrupted[corrupted.length - 1]! ^= 0x01;
      await rawSql(
        ctx.dataDir,
        `update secret_versions set ciphertext = X'${corrupted.toString('hex')}'
         where secret_id = '${last.secret_id}' and version = ${last.version}`,
      );
      return last;
    }

    it('should leave the database exactly as it was, and create no token, when one version cannot be decrypted', async () => {
      const ctx = await openCopy();
      const corrupted = await corruptLastCiphertext(ctx);
      expect(corrupted.key).not.toBe('SHARED');
      await ctx.audit.flush();
      const before = await snapshotDatabase(ctx.dataDir);

      const attempt = ctx.tokens.create(
        { project: 'acme-web', environment: 'prod', access: 'read', keyed: masterKey() },
        actor,
      );
      await expect(attempt).rejects.toThrow(IntegrityFailed);
      await ctx.audit.flush();
      expect(await snapshotDatabase(ctx.dataDir)).toEqual(before);
      expect(await ctx.tokens.list()).toHaveLength(2);
      expect((await readStored(ctx.dataDir)).roots.map((r) => r.value_keys)).toEqual(['root', 'root']);
      // Everything else still opens under the root key, and reads through the service.
      const corruptedName = versionName(
        (await readStored(ctx.dataDir)).versions.find(
          (v) => v.project_id === corrupted.project_id && v.key === corrupted.key && v.version === corrupted.version,
        )!,
      );
      expect(await openAll(ctx.dataDir, fixture.masterKey)).toEqual({ ...STORED, [corruptedName]: null });
      expect(
        (await ctx.secrets.get({ project: 'acme-web', environment: 'prod', key: 'SHARED' }, masterKey())).value,
      ).toBe('web-prod-override');
    });

    it('should say which stored version kept the conversion from happening, not blame the key', async () => {
      const ctx = await openCopy();
      const last = await corruptLastCiphertext(ctx);
      const error = await ctx.tokens
        .create({ project: 'acme-web', environment: 'prod', access: 'read', keyed: masterKey() }, actor)
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      expect(error).toBeInstanceOf(Error);
      // The master key was right (it unwrapped the data key); one stored version was not. A clear
      // error names that version, so an operator can restore or delete it and try again.
      expect(error!.message).toContain(last.key);
      expect(error!.message).toContain(String(last.version));
      expect(error!.message).not.toMatch(/wrong key/);
    });

    /**
     * A derivation that waits, once, at the gate: a request reads the tree's scheme, then derives its
     * key (scrypt, a third of a second in production), and a conversion can commit in between.
     */
    function gatedKdf() {
      const real = createKdf({ concurrency: 2 });
      let gate: { arrived: () => void; opened: Promise<void> } | undefined;
      const kdf: Kdf = {
        get derivations() {
          return real.derivations;
        },
        async derive(secret, salt, params) {
          const waiting = gate;
          if (waiting) {
            gate = undefined;
            waiting.arrived();
            await waiting.opened;
          }
          return real.derive(secret, salt, params);
        },
      };
      const holdNext = () => {
        let arrived: () => void = () => {};
        let open: () => void = () => {};
        const reached = new Promise<void>((resolve) => (arrived = resolve));
        gate = { arrived, opened: new Promise<void>((resolve) => (open = resolve)) };
        return { reached, open };
      };
      return { kdf, holdNext };
    }

    /** Runs `op` with the master key so that a keyed token converts acme while `op` derives its key. */
    async function acrossConversion<T>(op: (ctx: Awaited<ReturnType<typeof openCopy>>) => Promise<T>) {
      const gated = gatedKdf();
      const ctx = await openCopy({ kdf: gated.kdf });
      const acme = await ctx.projects.byName('acme');
      // An admin session unseals acme first, so the conversion itself needs no derivation.
      await ctx.keys.unseal(acme, masterKeyBytes(fixture.masterKey), 'admin-session', actor);
      const gate = gated.holdNext();
      const running = op(ctx).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      await gate.reached;
      await ctx.tokens.create(
        { project: 'acme', environment: 'prod', access: 'read', keyed: { unsealedBy: 'admin-session' } },
        actor,
      );
      expect((await readStored(ctx.dataDir)).roots.map((r) => r.value_keys)).toEqual(['environment', 'root']);
      gate.open();
      return { ctx, outcome: await running };
    }

    it('should not let a write that started before the conversion land under the root key', async () => {
      const value = 'written-while-converting';
      const { ctx, outcome } = await acrossConversion((c) =>
        c.secrets.set({ project: 'acme', environment: 'prod', key: 'WRITTEN_MEANWHILE', value }, masterKey(), actor),
      );
      // Refusing the write (the caller retries) is fine; writing it under a key the tree no longer uses is not.
      const stored = await openAll(ctx.dataDir, fixture.masterKey);
      if (outcome.ok) {
        const written = (await readStored(ctx.dataDir)).versions.find((v) => v.key === 'WRITTEN_MEANWHILE')!;
        const dek = dekOf(fixture.masterKey, rootOf(await readStored(ctx.dataDir), 'acme'));
        expect(tryDecrypt(dek, written), 'the value is under the root data key, in a converted tree').toBeUndefined();
        expect(stored['acme/prod/WRITTEN_MEANWHILE@1']).toBe(value);
        expect(
          (await ctx.secrets.get({ project: 'acme', environment: 'prod', key: 'WRITTEN_MEANWHILE' }, masterKey()))
            .value,
        ).toBe(value);
      } else {
        expect(outcome.error).toBeInstanceOf(KeyRotatedMeanwhile);
        expect(stored['acme/prod/WRITTEN_MEANWHILE@1']).toBeUndefined();
      }
      // Every other value of the scope still reads.
      expect(
        (await ctx.secrets.get({ project: 'acme', environment: 'prod', key: 'DATABASE_URL' }, masterKey())).value,
      ).toBe('postgres://prod-db-2/acme');
    });

    it('should answer a read that started before the conversion with the values, or a retryable error', async () => {
      const { outcome } = await acrossConversion((c) =>
        c.secrets.get({ project: 'acme-web', environment: 'prod', key: 'SHARED' }, masterKey()),
      );
      if (outcome.ok) expect(outcome.value.value).toBe('web-prod-override');
      // Not an IntegrityFailed, which would blame the database for a race.
      else expect(outcome.error).toBeInstanceOf(KeyRotatedMeanwhile);
    });
  });

  describe('rotate from the CLI', () => {
    const work = tempDir('secretsfly-keys-');
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
    const keyFile = (name: string, key: string) => {
      const file = path.join(work, name);
      fs.writeFileSync(file, key);
      return file;
    };

    it('should convert the tree with --reencrypt, under a new data key, and keep every version', async () => {
      const dataDir = copyFixture();
      cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      const before = await readStored(dataDir);
      const rotated = succeeded(
        await runCli(['rotate', 'acme', '--reencrypt', '--master-key-file', fixture.masterKeyFile], { dataDir }),
      );
      expect(rotated.stderr).toContain(`re-encrypted ${ACME_CIPHERTEXTS.length} versions`);
      const newKey = rotated.stdout.trim();
      expect(newKey).toMatch(/^sfmk_/);

      const after = await readStored(dataDir);
      expect(rootOf(after, 'acme')).toMatchObject({ value_keys: 'environment', key_version: 2 });
      expect(rootOf(after, 'other')).toMatchObject({ value_keys: 'root', key_version: 1 });
      // acme now opens with the new master key only; other, untouched, with the fixture's.
      const withNew = await openAll(dataDir, newKey);
      for (const [name, value] of Object.entries(STORED).filter(([n]) => !n.startsWith('other/'))) {
        expect(withNew[name], name).toBe(value);
      }
      expect(() => dekOf(fixture.masterKey, rootOf(after, 'acme'))).toThrow();
      const oldDek = dekOf(fixture.masterKey, rootOf(before, 'acme'));
      for (const v of after.versions.filter((v) => v.project !== 'other' && v.ciphertext !== null)) {
        expect(tryDecrypt(oldDek, v), versionName(v)).toBeUndefined();
      }
      expect((await openAll(dataDir, fixture.masterKey))['other/prod/OTHER_SECRET@1']).toBe('other-root-value');

      const newKeyFile = keyFile('acme-new', newKey);
      const get = async (project: string, env: string, key: string, file: string) =>
        (await runCli(['secret', 'get', project, env, key, '--master-key-file', file], { dataDir })).stdout;
      expect(await get('acme-web', 'prod', 'MULTI', newKeyFile)).toBe(`${PULLED.prod.MULTI}\n`);
      expect(await get('acme-web', 'staging', 'API_KEY', newKeyFile)).toBe('staging-api-key\n');
      expect(await get('other', 'prod', 'OTHER_SECRET', fixture.masterKeyFile)).toBe('other-root-value\n');

      // The classic fixture tokens follow the new master key.
      const server = await serveCopy(dataDir);
      const pulled = await call(server, '/api/v1/secrets', { token: fixture.tokenProd, masterKey: newKey });
      expect(pulled.json.secrets).toEqual(PULLED.prod);
      expect(
        (await call(server, '/api/v1/secrets', { token: fixture.tokenProd, masterKey: fixture.masterKey })).status,
      ).toBe(401);
    });

    it('should keep the root key scheme on a plain rotate', async () => {
      const dataDir = copyFixture();
      cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      const rotated = succeeded(
        await runCli(['rotate', 'acme', '--master-key-file', fixture.masterKeyFile], { dataDir }),
      );
      const after = await readStored(dataDir);
      expect(rootOf(after, 'acme')).toMatchObject({ value_keys: 'root', key_version: 2 });
      expect((await openAll(dataDir, rotated.stdout.trim()))['acme-web/prod/GONE@1']).toBe('to-be-deleted');
    });

    it('should refuse --reencrypt on a tree with a version it cannot decrypt, change nothing, and say which', async () => {
      const dataDir = copyFixture();
      cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      // Migrate first, so the snapshot below compares like with like.
      succeeded(await runCli(['migrate'], { dataDir }));
      const stored = await readStored(dataDir);
      const target = stored.versions.find((v) => versionName(v) === 'acme-web/prod/GONE@1')!;
      const corrupted = Buffer.from(target.ciphertext!);
      corrupted[corrupted.length - 1]! ^= 0x01;
      await rawSql(
        dataDir,
        `update secret_versions set ciphertext = X'${corrupted.toString('hex')}'
         where version = 1 and secret_id = (select id from secrets where key = 'GONE')`,
      );
      const before = await snapshotDatabase(dataDir);
      const result = await runCli(['rotate', 'acme', '--reencrypt', '--master-key-file', fixture.masterKeyFile], {
        dataDir,
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(await snapshotDatabase(dataDir)).toEqual(before);
      // A clear error: the stored version at fault, not an "unexpected error" about a wrong key.
      expect(result.stderr).not.toContain('unexpected error');
      expect(result.stderr).toContain('GONE');
    });
  });
});
