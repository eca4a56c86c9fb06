import type { Selectable } from 'kysely';

export type TokenAccess = 'read' | 'read_write';

/** `classic` pulls with the master key; `keyed` carries the key of its own environment (docs/crypto.md). */
export type TokenKind = 'classic' | 'keyed';

export interface ServiceTokenTable {
  /** The public part of the token (`sfst_<id>_<secret>`, `sfst_k1_<id>_<secret>`), used to look it up. */
  id: string;
  name: string;
  /**
   * Classic: SHA-256 of the whole token string. Keyed: SHA-256 of its authentication key. The token
   * itself is never stored.
   */
  token_hash: Uint8Array;
  kind: TokenKind;
  /**
   * Keyed tokens: the environment key, wrapped under the token's wrapping key (which is never
   * stored). Deleted when the token is revoked or its root is re-encrypted.
   */
  wrapped_key: Uint8Array | null;
  project_id: string;
  environment_id: string;
  access: TokenAccess;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
  created_by: string;
}

export type ServiceTokenRow = Selectable<ServiceTokenTable>;
