import type { Kysely } from 'kysely';

/**
 * The audit page filters by actor and by date, newest first (src/audit/audit.routes.ts). Without
 * these, a rare actor or a day long ago scanned the log: 190 ms and 180 ms at a million events on the
 * UI bench (benchmark/ui-pages.ts), against 10 and 28 ms with them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('audit_events_actor_idx').on('audit_events').columns(['actor', 'seq']).execute();
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').columns(['at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_events_at_idx').execute();
  await db.schema.dropIndex('audit_events_actor_idx').execute();
}
