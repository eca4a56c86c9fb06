import type { Kysely } from 'kysely';

/**
 * The audit page and `audit --action` filter by action, newest first: without this index a rare
 * action (login) scanned the whole table (170 ms at a million events).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('audit_events_action_idx').on('audit_events').columns(['action', 'seq']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_events_action_idx').execute();
}
