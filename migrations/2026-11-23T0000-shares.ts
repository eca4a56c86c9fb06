import { type Kysely, PostgresAdapter } from 'kysely';

// One-time shares: the server keeps ciphertext it cannot open (the key lives in the link's fragment).
export async function up(db: Kysely<any>): Promise<void> {
  const binary = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';
  await db.schema
    .createTable('shares')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('creator_key_hash', binary, (c) => c.notNull())
    // Nulled in the same statement that marks the share viewed, burned or expired.
    .addColumn('ciphertext', 'text')
    .addColumn('passphrase_protected', 'integer', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(32)')
    .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('shares_pending_expiry_idx').on('shares').columns(['state', 'expires_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('shares').execute();
}
