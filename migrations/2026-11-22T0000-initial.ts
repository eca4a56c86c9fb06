import { type Kysely, PostgresAdapter } from 'kysely';

// Only types and constraints that SQLite and PostgreSQL share; binary columns are the one
// spelling that differs, so it is picked from the dialect.
export async function up(db: Kysely<any>): Promise<void> {
  const binary = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';

  await db.schema
    .createTable('environments')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(63)', (c) => c.notNull().unique())
    .addColumn('parent_id', 'varchar(36)', (c) => c.references('projects.id'))
    // The root of the tree (itself for a root). Projects are never re-parented, so it never changes.
    .addColumn('root_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('projects_root_idx').on('projects').column('root_id').execute();

  await db.schema
    .createTable('root_keys')
    .addColumn('project_id', 'varchar(36)', (c) => c.primaryKey().references('projects.id'))
    .addColumn('kdf', 'text', (c) => c.notNull())
    .addColumn('salt', binary, (c) => c.notNull())
    .addColumn('wrapped_dek', binary, (c) => c.notNull())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('rotated_at', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('secrets')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(36)', (c) => c.notNull().references('projects.id'))
    .addColumn('environment_id', 'varchar(36)', (c) => c.notNull().references('environments.id'))
    .addColumn('key', 'varchar(128)', (c) => c.notNull())
    .addColumn('current_version', 'integer', (c) => c.notNull())
    .addUniqueConstraint('secrets_project_env_key_unique', ['project_id', 'environment_id', 'key'])
    .execute();

  await db.schema
    .createTable('secret_versions')
    .addColumn('secret_id', 'varchar(36)', (c) => c.notNull().references('secrets.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('ciphertext', binary)
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
    .addPrimaryKeyConstraint('secret_versions_pk', ['secret_id', 'version'])
    .execute();

  await db.schema
    .createTable('service_tokens')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('token_hash', binary, (c) => c.notNull())
    .addColumn('project_id', 'varchar(36)', (c) => c.notNull().references('projects.id'))
    .addColumn('environment_id', 'varchar(36)', (c) => c.notNull().references('environments.id'))
    .addColumn('access', 'varchar(16)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('revoked_at', 'varchar(32)')
    .addColumn('last_used_at', 'varchar(32)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('service_tokens_project_idx').on('service_tokens').column('project_id').execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('username', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'integer', (c) => c.primaryKey())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor', 'varchar(200)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(36)')
    .addColumn('environment', 'varchar(32)')
    .addColumn('key', 'varchar(128)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('details', 'text')
    .addColumn('prev_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('hash', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_project_idx').on('audit_events').columns(['project_id', 'seq']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'audit_events',
    'users',
    'service_tokens',
    'secret_versions',
    'secrets',
    'root_keys',
    'projects',
    'environments',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
