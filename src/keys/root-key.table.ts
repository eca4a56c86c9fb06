import type { Selectable } from 'kysely';

export type ValueKeys = 'root' | 'environment';

/** One row per root project: everything needed to unwrap its data key, except the master key. */
export interface RootKeyTable {
  project_id: string;
  /** JSON KdfParams: algorithm, cost parameters and a version, so they can be raised later. */
  kdf: string;
  salt: Uint8Array;
  wrapped_dek: Uint8Array;
  key_version: number;
  /** Bumped in the same transaction as any write in the tree; guards every cache of decrypted data. */
  revision: number;
  /**
   * What encrypts this tree's values: `root`, the data key itself (databases from before scoped
   * keys); `environment`, a key per environment derived from it (crypto/scoped-keys.ts).
   */
  value_keys: ValueKeys;
  created_at: string;
  rotated_at: string | null;
}

export type RootKeyRow = Selectable<RootKeyTable>;
