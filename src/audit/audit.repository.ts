import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { AuditEventRow, AuditEventTable } from './audit.table.js';

function findLastEvent(db: Kysely<Database>) {
  return db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

async function findEventHash(db: Kysely<Database>, seq: number): Promise<string | undefined> {
  return (await db.selectFrom('audit_events').select('hash').where('seq', '=', seq).executeTakeFirst())?.hash;
}

async function insertEvents(db: Kysely<Database>, rows: AuditEventTable[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('audit_events').values(rows).execute();
}

function listEvents(
  db: Kysely<Database>,
  filter: { projectIds?: readonly string[]; action?: string; limit: number; beforeSeq?: number },
): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(filter.limit);
  if (filter.projectIds) query = query.where('project_id', 'in', filter.projectIds.length ? filter.projectIds : ['']);
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  return query.execute();
}

/** The next `limit` events after `afterSeq`, oldest first: one page of a walk along the chain. */
function listEventsAfter(db: Kysely<Database>, afterSeq: number, limit: number): Promise<AuditEventRow[]> {
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
}

export const auditRepository = Object.freeze({
  findLastEvent,
  findEventHash,
  insertEvents,
  listEvents,
  listEventsAfter,
});
