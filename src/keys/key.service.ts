import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { DecryptionFailed } from '../crypto/aead.js';
import { generateDataKey, unwrapDataKey, wrapDataKey } from '../crypto/envelope.js';
import { DEFAULT_KDF_PARAMS, type Kdf, type KdfParams, parseKdfParams } from '../crypto/kdf.js';
import { type Changes, changeGuardedRows } from '../db/changes.js';
import type { Database } from '../db/database.js';
import { IntegrityFailed, InvalidMasterKey, KeyRotatedMeanwhile, Sealed } from '../errors.js';
import type { ProjectRow } from '../projects/project.table.js';
import type { Keystore } from './keystore.js';
import { rootKeyRepository } from './root-key.repository.js';
import type { RootKeyRow, RootKeyTable } from './root-key.table.js';
import { type DataKey, type KeyedTokenAccess, valueKeysOf, withTokenKey } from './value-keys.js';

export type { DataKey, KeyedTokenAccess } from './value-keys.js';
export { valueKeysOf } from './value-keys.js';

/**
 * Wraps a key derivation (only a cache miss derives): `before` may refuse it (rate limiting), `after`
 * learns whether the master key was right.
 */
export interface DerivationGuard {
  before(): Promise<void>;
  after(succeeded: boolean): Promise<void>;
}

/** How a caller proves it may use a root's data key. */
export type KeyAccess =
  /** The master key itself (CLI, API). The caller owns the bytes and wipes them. */
  | { readonly masterKey: Uint8Array; readonly guard?: DerivationGuard }
  /** The unseal this admin session (ui-kit.ts: sessionHolder) made, still in force (web UI). */
  | { readonly unsealedBy: string }
  /** A keyed token presented whole (the API without X-Master-Key): opens its own environment only. */
  | { readonly keyedToken: KeyedTokenAccess };

type MasterKeyAccess = Extract<KeyAccess, { masterKey: Uint8Array }>;

export function createKeyService(deps: {
  db: Kysely<Database>;
  changes: Changes;
  kdf: Kdf;
  keystore: Keystore;
  audit: Pick<AuditService, 'record' | 'recordAlone'>;
  now: () => Date;
  kdfParams?: KdfParams;
}) {
  const { db, kdf, keystore, audit, now } = deps;
  const kdfParams = deps.kdfParams ?? DEFAULT_KDF_PARAMS;

  // Looked up on every use of a key (its key_version and revision guard the caches of decrypted
  // values), and read again from the database whenever anything there has changed.
  const rootKeys = changeGuardedRows(deps.changes, (rootId: string) => rootKeyRepository.findRootKey(db, rootId));

  async function requireRootKey(rootId: string): Promise<RootKeyRow> {
    const rootKey = await rootKeys(rootId);
    if (!rootKey) throw new Error(`root project ${rootId} has no key`);
    return rootKey;
  }

  /** Derives a KEK from a new master key and wraps `dek` under it. Runs the KDF: call before any transaction. */
  async function wrapForMasterKey(
    rootId: string,
    masterKey: Uint8Array,
    dek: Uint8Array,
    keyVersion: number,
  ): Promise<Pick<RootKeyTable, 'kdf' | 'salt' | 'wrapped_dek' | 'key_version'>> {
    const salt = new Uint8Array(randomBytes(16));
    const kek = await kdf.derive(masterKey, salt, kdfParams);
    try {
      return {
        kdf: JSON.stringify(kdfParams),
        salt,
        wrapped_dek: wrapDataKey(kek, dek, { rootId, keyVersion }),
        key_version: keyVersion,
      };
    } finally {
      kek.fill(0);
    }
  }

  /** The root_keys row for a new root project, with a fresh random DEK. */
  async function prepareRootKey(rootId: string, masterKey: Uint8Array): Promise<RootKeyTable> {
    const dek = generateDataKey();
    try {
      const wrapped = await wrapForMasterKey(rootId, masterKey, dek, 1);
      return {
        project_id: rootId,
        ...wrapped,
        revision: 0,
        value_keys: 'environment',
        created_at: now().toISOString(),
        rotated_at: null,
      };
    } finally {
      dek.fill(0);
    }
  }

  /** Master key → KEK → DEK. Throws InvalidMasterKey. The caller wipes the returned DEK. */
  async function unlock(rootKey: RootKeyRow, masterKey: Uint8Array): Promise<Uint8Array> {
    const kek = await kdf.derive(masterKey, rootKey.salt, parseKdfParams(rootKey.kdf));
    try {
      return unwrapDataKey(kek, rootKey.wrapped_dek, { rootId: rootKey.project_id, keyVersion: rootKey.key_version });
    } catch (error) {
      if (error instanceof DecryptionFailed) throw new InvalidMasterKey();
      throw error;
    } finally {
      kek.fill(0);
    }
  }

  /** Derivations under way, by root, key version and master-key fingerprint. */
  const derivations = new Map<string, Promise<void>>();

  /**
   * The DEK for a presented master key: from the API cache, else from a derivation. Concurrent
   * requests presenting the same key share one derivation and one rate-limit slot, so a fleet of
   * clients starting at once (after a deploy, a seal or a server restart) costs one KDF run, not
   * one each, and never trips the wrong-key limit.
   */
  async function apiDataKey(rootKey: RootKeyRow, access: MasterKeyAccess): Promise<Uint8Array> {
    const rootId = rootKey.project_id;
    const cached = keystore.apiKey(rootId, access.masterKey, rootKey.key_version);
    if (cached) return cached;
    const flight = `${rootId}:${rootKey.key_version}:${Buffer.from(keystore.proof(access.masterKey)).toString('hex')}`;
    const running = derivations.get(flight);
    if (running) {
      await running; // the same key: its failure is ours too
      const shared = keystore.apiKey(rootId, access.masterKey, rootKey.key_version);
      if (shared) return shared;
    }
    const derived = deriveApiKey(rootKey, access);
    const done = derived.then(() => undefined);
    done.catch(() => {}); // a derivation nobody else waited for may fail unobserved
    derivations.set(flight, done);
    try {
      return await derived;
    } finally {
      if (derivations.get(flight) === done) derivations.delete(flight);
    }
  }

  async function deriveApiKey(rootKey: RootKeyRow, access: MasterKeyAccess): Promise<Uint8Array> {
    await access.guard?.before();
    let succeeded = false;
    try {
      const dek = await unlock(rootKey, access.masterKey);
      succeeded = true;
      keystore.rememberApiKey(rootKey.project_id, access.masterKey, dek, rootKey.key_version);
      return dek;
    } finally {
      await access.guard?.after(succeeded);
    }
  }

  /**
   * Runs `fn` with the keys of the root's values, wiped afterwards. A master key is checked against
   * the API cache first, and only derived (once) when it is not there; a keyed token's environment
   * key comes from the token cache or from one unwrap (no KDF).
   */
  async function withDataKey<T>(root: ProjectRow, access: KeyAccess, fn: (key: DataKey) => Promise<T>): Promise<T> {
    const rootKey = await requireRootKey(root.id);
    if ('keyedToken' in access) return withTokenKey(keystore, rootKey, access.keyedToken, fn);
    let dek: Uint8Array | undefined;
    if ('masterKey' in access) {
      dek = await apiDataKey(rootKey, access);
    } else {
      dek = keystore.adminKey(root.id, access.unsealedBy, rootKey.key_version);
      if (!dek) throw new Sealed(root.name);
    }
    // A derivation takes a third of a second: the tree may have been converted to environment keys
    // meanwhile (same data key, same key_version), so the scheme is read again now.
    const current = await requireRootKey(root.id);
    const keyed = current.key_version === rootKey.key_version ? current : rootKey;
    const values = valueKeysOf(root.id, dek, keyed.value_keys);
    try {
      return await changedMeanwhile(keyed, () =>
        fn({
          valueKey: values.valueKey,
          assertOpens: () => undefined, // the data key opens every environment of its tree
          dek,
          keyVersion: keyed.key_version,
          rootKey: keyed,
        }),
      );
    } finally {
      values.wipe();
      dek.fill(0);
    }
  }

  /**
   * Runs `fn`; a value that failed its integrity check while the tree's keys changed (a rotation or
   * a conversion committed by another request or process in between) is that race, not damage:
   * KeyRotatedMeanwhile, which says to try again.
   */
  async function changedMeanwhile<T>(used: RootKeyRow, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof IntegrityFailed) {
        const now = await requireRootKey(used.project_id);
        if (now.key_version !== used.key_version || now.value_keys !== used.value_keys) throw new KeyRotatedMeanwhile();
      }
      throw error;
    }
  }

  /** Unseals `root` for `holder` (an admin session) alone. */
  async function unseal(
    root: ProjectRow,
    masterKey: Uint8Array,
    holder: string,
    actor: Actor,
  ): Promise<{ expiresAt: Date }> {
    const rootKey = await requireRootKey(root.id);
    let dek: Uint8Array;
    try {
      dek = await unlock(rootKey, masterKey);
    } catch (error) {
      if (error instanceof InvalidMasterKey) {
        await audit.recordAlone({ actor, action: 'unseal_failed', projectId: root.id });
      }
      throw error;
    }
    try {
      const sealed = keystore.unseal(root.id, holder, dek, rootKey.key_version);
      await audit.recordAlone({ actor, action: 'unseal', projectId: root.id });
      return sealed;
    } finally {
      dek.fill(0);
    }
  }

  /** Stores a new root's key (from prepareRootKey, which ran the KDF) in the caller's transaction. */
  function storeRootKey(trx: Kysely<Database>, row: RootKeyTable): Promise<void> {
    return rootKeyRepository.insertRootKey(trx, row);
  }

  /**
   * Marks a change in the root's tree, in the caller's transaction (caches of decrypted values
   * compare the revision). With the DataKey used for the change, false means the tree was rotated
   * or converted to environment keys meanwhile: the caller must roll back.
   */
  function bumpRevision(trx: Kysely<Database>, rootId: string, usedKey?: DataKey): Promise<boolean> {
    return rootKeyRepository.bumpRevision(
      trx,
      rootId,
      usedKey && { keyVersion: usedKey.keyVersion, valueKeys: usedKey.rootKey.value_keys },
    );
  }

  /** Marks the tree's values as under environment keys, in the caller's transaction (useEnvironmentKeys in secret-write.service.ts). */
  function useEnvironmentKeys(trx: Kysely<Database>, rootId: string, keyVersion: number): Promise<boolean> {
    return rootKeyRepository.useEnvironmentKeys(trx, rootId, keyVersion);
  }

  async function seal(root: ProjectRow, actor: Actor): Promise<boolean> {
    const wasUnsealed = keystore.seal(root.id);
    await audit.recordAlone({ actor, action: 'seal', projectId: root.id });
    return wasUnsealed;
  }

  /** Compiles the root-key query before the first request needs it (http/warm-up.ts). */
  async function warmUp(): Promise<void> {
    await rootKeyRepository.findRootKey(db, 'warm-up');
  }

  return {
    warmUp,
    prepareRootKey,
    storeRootKey,
    wrapForMasterKey,
    unlock,
    withDataKey,
    bumpRevision,
    useEnvironmentKeys,
    unseal,
    seal,
    requireRootKey,
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
