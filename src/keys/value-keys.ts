import { DecryptionFailed } from '../crypto/aead.js';
import {
  bindingLabel,
  environmentKey,
  parseKeyedToken,
  type TokenKeyBinding,
  unwrapEnvironmentKey,
} from '../crypto/scoped-keys.js';
import { Forbidden, InvalidToken } from '../errors.js';
import type { Keystore } from './keystore.js';
import type { RootKeyRow, ValueKeys } from './root-key.table.js';

/**
 * The keys of a tree's values (docs/crypto.md, "The key hierarchy"): what key.service.ts hands a
 * caller, from the data key (master key, admin unseal) or from a keyed token's environment key.
 */

export interface KeyedTokenAccess {
  readonly binding: TokenKeyBinding;
  /** The whole token string as presented, and its keystore.proof (what the token cache keeps). */
  readonly token: string;
  readonly tokenProof: Uint8Array;
  /** The row's token_hash the token was verified against (the token cache checks it is unchanged). */
  readonly tokenHash: Uint8Array;
  /** Derived from the token for this request when authentication needed it; the caller wipes it. */
  readonly wrappingKey?: Uint8Array | undefined;
  /** The token's stored wrapped environment key (null once withdrawn). */
  readonly wrappedKey: Uint8Array | null;
}

export interface DataKey {
  /**
   * The key that encrypts and decrypts the values of `environmentId` in this tree: the root's data
   * key itself (`value_keys = 'root'`, databases from before scoped keys) or that environment's key.
   * Owned by this DataKey and wiped with it; a keyed token's DataKey refuses every other environment.
   */
  valueKey(environmentId: string): Uint8Array;
  /**
   * Throws unless this key opens `environmentId`: checked before anything cached for that
   * environment is served, since cached values need no key to read.
   */
  assertOpens(environmentId: string): void;
  /** The root's data key; null when only an environment key is held (a keyed token). */
  readonly dek: Uint8Array | null;
  /** The key_version the key belongs to: a write must check it in its transaction (bumpRevision). */
  readonly keyVersion: number;
  readonly rootKey: RootKeyRow;
}

/**
 * The value keys of a tree as `scheme` lays them out, from its data key: derived once per
 * environment on first use. `wipe` zeroes every key derived (not `dek`, which the caller owns).
 */
export function valueKeysOf(rootId: string, dek: Uint8Array, scheme: ValueKeys) {
  const derived = new Map<string, Uint8Array>();
  return {
    valueKey(environmentId: string): Uint8Array {
      if (scheme === 'root') return dek;
      let key = derived.get(environmentId);
      if (!key) {
        key = environmentKey(dek, rootId, environmentId);
        derived.set(environmentId, key);
      }
      return key;
    },
    wipe(): void {
      for (const key of derived.values()) key.fill(0);
      derived.clear();
    },
  };
}

/** A keyed token's environment key: cached, else unwrapped. A key that does not unwrap is a 401. */
export async function withTokenKey<T>(
  keystore: Pick<Keystore, 'tokenKey' | 'rememberTokenKey'>,
  rootKey: RootKeyRow,
  access: KeyedTokenAccess,
  fn: (key: DataKey) => Promise<T>,
): Promise<T> {
  const { binding, token, wrappedKey } = access;
  // A keyed token exists only in a tree whose values are under environment keys (its creation
  // converted it): anything else is a database altered by hand.
  if (rootKey.value_keys !== 'environment' || wrappedKey === null) throw new InvalidToken();
  const cacheAs = { id: binding.tokenId, binding: bindingLabel(binding), tokenHash: access.tokenHash };
  let envKey = keystore.tokenKey(rootKey.project_id, cacheAs, access.tokenProof);
  if (!envKey) {
    // Not derived yet when authentication found the token verified here before.
    const derived = access.wrappingKey ? undefined : parseKeyedToken(token);
    derived?.authKey.fill(0);
    const wrappingKey = access.wrappingKey ?? derived?.wrappingKey;
    if (!wrappingKey) throw new InvalidToken();
    try {
      envKey = unwrapEnvironmentKey(wrappingKey, wrappedKey, binding);
    } catch (error) {
      if (error instanceof DecryptionFailed) throw new InvalidToken();
      throw error;
    } finally {
      derived?.wrappingKey.fill(0);
    }
    keystore.rememberTokenKey(rootKey.project_id, cacheAs, access.tokenProof, envKey);
  }
  const key = envKey;
  const assertOpens = (environmentId: string) => {
    if (environmentId !== binding.environmentId) throw new Forbidden('a keyed token opens its own environment only');
  };
  try {
    return await fn({
      valueKey(environmentId) {
        assertOpens(environmentId);
        return key;
      },
      assertOpens,
      dek: null,
      keyVersion: rootKey.key_version,
      rootKey,
    });
  } finally {
    key.fill(0);
  }
}
