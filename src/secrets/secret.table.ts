import type { Selectable } from 'kysely';

export interface SecretTable {
  id: string;
  project_id: string;
  environment_id: string;
  key: string;
  /** The newest version; its row in secret_versions holds the value or a tombstone. */
  current_version: number;
}

export type SecretVersionKind = 'set' | 'delete' | 'rollback' | 'import';

export interface SecretVersionTable {
  secret_id: string;
  version: number;
  /** null marks a tombstone (the key was deleted at this version). */
  ciphertext: Uint8Array | null;
  kind: SecretVersionKind;
  created_at: string;
  created_by: string;
}

export type SecretRow = Selectable<SecretTable>;
export type SecretVersionRow = Selectable<SecretVersionTable>;
