import type { Kysely } from 'kysely';

/**
 * The per-secret access log (docs/architecture.md, "Access log"; docs/crypto.md, "Audit log").
 *
 * - secret_access: one row per (secret, who, how) that received or revealed a value, with when
 *   (first, last), how often, and from where last. Upserted in the transaction that writes the
 *   chained audit events it comes from (first_seq and last_seq name them), never per request.
 * - secret_access_keysets: the key lists those events commit to by their SHA-256 (`keys_sha256` in
 *   the event's details), stored once per distinct list, so a row can be checked against the chain.
 *
 * Neither holds a value. Neither is read by an in-memory cache, so PostgreSQL needs no change-stamp
 * trigger on them. The same schema serves both engines.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('secret_access')
    // The project whose stored value was received (the source of an inherited one).
    .addColumn('project_id', 'varchar(36)', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment_id', 'varchar(36)', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('key', 'varchar(128)', (c) => c.notNull())
    // The audit event's actor: token:<id>, user:<name>, cli:<os user>.
    .addColumn('actor', 'varchar(200)', (c) => c.notNull())
    .addColumn('via', 'varchar(16)', (c) => c.notNull())
    .addColumn('first_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('last_ip', 'varchar(64)')
    .addColumn('last_user_agent', 'varchar(512)')
    .addColumn('first_seq', 'integer', (c) => c.notNull())
    .addColumn('last_seq', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('secret_access_pk', ['project_id', 'environment_id', 'key', 'actor', 'via'])
    .execute();

  await db.schema
    .createTable('secret_access_keysets')
    .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
    // JSON array of [project id, key] pairs, sorted: exactly what the hash was taken over.
    .addColumn('keys', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('secret_access_keysets').execute();
  await db.schema.dropTable('secret_access').execute();
}
