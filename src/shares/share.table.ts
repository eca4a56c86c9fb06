import type { Selectable } from 'kysely';

export type ShareState = 'pending' | 'viewed' | 'burned' | 'expired';

export interface ShareTable {
  id: string;
  /** SHA-256 of the creator key, which alone may ask the status or burn the share. */
  creator_key_hash: Uint8Array;
  ciphertext: string | null;
  passphrase_protected: number;
  state: ShareState;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  created_by: string;
}

export type ShareRow = Selectable<ShareTable>;
