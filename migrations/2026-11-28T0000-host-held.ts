import type { Kysely } from 'kysely';

/**
 * Host-held secrets (docs/architecture.md, "Host-held secrets"): the titles an agent on an app host
 * syncs, never a value, and the signatures of recent syncs (so a replay is refused on every
 * instance). Neither table is read by an in-memory cache, so PostgreSQL needs no change-stamp
 * trigger on them: a sync bumps its root's revision instead, which root_keys' trigger stamps.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('host_held_secrets')
    // The id the agent gave it (a UUID); never one of a server-held secret (checked at each sync).
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('agent', 'varchar(64)', (c) => c.notNull())
    // Cascades: a restore into PostgreSQL (`copy --force`) empties projects and environments before
    // it copies every table back, these titles included, and must not be blocked by them.
    .addColumn('project_id', 'varchar(36)', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment_id', 'varchar(36)', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('synced_at', 'varchar(32)', (c) => c.notNull())
    // Several hosts of one app may each hold the same name; one host holds it once.
    .addUniqueConstraint('host_held_agent_scope_name_unique', ['agent', 'project_id', 'environment_id', 'name'])
    .execute();
  // "Is this name held on a host?": asked by every write of a secret.
  await db.schema
    .createIndex('host_held_scope_name_idx')
    .on('host_held_secrets')
    .columns(['project_id', 'environment_id', 'name'])
    .execute();

  await db.schema
    .createTable('agent_sync_signatures')
    .addColumn('signature', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('seen_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agent_sync_signatures_seen_idx').on('agent_sync_signatures').column('seen_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('agent_sync_signatures').execute();
  await db.schema.dropTable('host_held_secrets').execute();
}
