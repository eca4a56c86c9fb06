import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Several instances on PostgreSQL (docs/architecture.md, "Several instances"). What one SQLite
 * process keeps in memory or in DATA_DIR is shared through the database instead. SQLite gets none
 * of it: it is one process (sessions.db, in-memory counters, `PRAGMA data_version`).
 *
 * - change_stamp: one counter that every change a cache could have read moves, in the change's own
 *   transaction (statement triggers below). Instances compare it before trusting a cached row.
 * - admin_sessions: the same rows as sessions.db (session-store.ts), so any instance serves any admin.
 * - rate_limits: the limiters' counters (rate-limit-store.ts), so N instances allow no more than one.
 * - server_settings: the generated session secret, shared by every instance.
 * - instances: which instance is where, so an admin's pages can follow the instance holding their unseal.
 */
const CACHED_TABLES = ['environments', 'projects', 'root_keys', 'secrets', 'secret_versions', 'users'];
/** Every column but last_used_at: the stamp of a pull must not empty every instance's caches. */
const TOKEN_COLUMNS = [
  'name',
  'token_hash',
  'project_id',
  'environment_id',
  'access',
  'expires_at',
  'revoked_at',
  'kind',
  'wrapped_key',
];

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;

  await db.schema
    .createTable('change_stamp')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('stamp', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('change_stamp').values({ id: 1, stamp: 0 }).execute();
  await sql`
    create function secretsfly_bump_stamp() returns trigger language plpgsql as $$
    begin
      update change_stamp set stamp = stamp + 1 where id = 1;
      return null;
    end $$`.execute(db);
  for (const table of CACHED_TABLES) {
    await sql`
      create trigger ${sql.id(`${table}_changes_stamp`)}
      after insert or update or delete on ${sql.id(table)}
      for each statement execute function secretsfly_bump_stamp()`.execute(db);
  }
  await sql`
    create trigger service_tokens_changes_stamp
    after insert or delete or update of ${sql.join(TOKEN_COLUMNS.map((c) => sql.id(c)))} on service_tokens
    for each statement execute function secretsfly_bump_stamp()`.execute(db);

  await db.schema
    .createTable('admin_sessions')
    .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('signed_in_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('admin_sessions_expires_idx').on('admin_sessions').column('expires_at').execute();

  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(400)', (c) => c.primaryKey())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addColumn('reset_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_limits_reset_idx').on('rate_limits').column('reset_at').execute();

  await db.schema
    .createTable('server_settings')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('instances')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('url', 'varchar(300)')
    .addColumn('fly_machine_id', 'varchar(64)')
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('seen_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const table of ['instances', 'server_settings', 'rate_limits', 'admin_sessions']) {
    await db.schema.dropTable(table).execute();
  }
  for (const table of [...CACHED_TABLES, 'service_tokens']) {
    await sql`drop trigger ${sql.id(`${table}_changes_stamp`)} on ${sql.id(table)}`.execute(db);
  }
  await sql`drop function secretsfly_bump_stamp()`.execute(db);
  await db.schema.dropTable('change_stamp').execute();
}
