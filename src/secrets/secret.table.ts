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
  /** A typed secret's type (typed-secrets.ts); null for a generic value. Plaintext metadata. */
  type: string | null;
  /** A certificate's public metadata as JSON (CertificateMetadata); else null. */
  metadata: string | null;
}

export type SecretRow = Selectable<SecretTable>;
export type SecretVersionRow = Selectable<SecretVersionTable>;
