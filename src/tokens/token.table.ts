import type { Selectable } from 'kysely';

export type TokenAccess = 'read' | 'read_write';

export interface ServiceTokenTable {
  /** The public part of the token (`sfst_<id>_<secret>`), used to look it up. */
  id: string;
  name: string;
  /** SHA-256 of the whole token string; the token itself is never stored. */
  token_hash: Uint8Array;
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
