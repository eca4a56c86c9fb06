import type { Kysely } from 'kysely';

/**
 * Typed secrets (src/secrets/typed-secrets.ts): each version's type, and for a certificate what it
 * shows in any TLS handshake (subject, issuer, SANs, validity), in plaintext beside the ciphertext
 * so that `secret list`, the UI and `expiring` need no key. Null for a generic value (every version
 * written before). The fields themselves stay in the ciphertext.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('secret_versions').addColumn('type', 'text').execute();
  await db.schema.alterTable('secret_versions').addColumn('metadata', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('secret_versions').dropColumn('metadata').execute();
  await db.schema.alterTable('secret_versions').dropColumn('type').execute();
}
