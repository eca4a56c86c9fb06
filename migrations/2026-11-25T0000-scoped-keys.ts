import { type Kysely, PostgresAdapter } from 'kysely';

/**
 * Scoped keys (docs/crypto.md). A migration holds no key, so it converts nothing: roots made before
 * it keep `value_keys = 'root'` (every value under the root's data key) until a master key is
 * present to convert them (`rotate --reencrypt`, or the first keyed token of the tree). Existing
 * tokens are classic; a keyed token keeps its environment key wrapped in `wrapped_key`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const binary = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';
  await db.schema
    .alterTable('root_keys')
    .addColumn('value_keys', 'varchar(16)', (c) => c.notNull().defaultTo('root'))
    .execute();
  await db.schema
    .alterTable('service_tokens')
    .addColumn('kind', 'varchar(16)', (c) => c.notNull().defaultTo('classic'))
    .execute();
  await db.schema.alterTable('service_tokens').addColumn('wrapped_key', binary).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('service_tokens').dropColumn('wrapped_key').execute();
  await db.schema.alterTable('service_tokens').dropColumn('kind').execute();
  await db.schema.alterTable('root_keys').dropColumn('value_keys').execute();
}
