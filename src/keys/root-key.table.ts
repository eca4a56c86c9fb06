import type { Selectable } from 'kysely';

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
  created_at: string;
  rotated_at: string | null;
}

export type RootKeyRow = Selectable<RootKeyTable>;
