import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { AuditEventRow, AuditEventTable } from './audit.table.js';

export function findLastAuditEvent(db: Kysely<Database>) {
  return db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
}

export async function insertAuditEvents(db: Kysely<Database>, rows: AuditEventTable[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('audit_events').values(rows).execute();
}

export function listAuditEventRows(
  db: Kysely<Database>,
  filter: { projectIds?: readonly string[]; action?: string; limit: number; beforeSeq?: number },
): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(filter.limit);
  if (filter.projectIds) query = query.where('project_id', 'in', filter.projectIds.length ? filter.projectIds : ['']);
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  return query.execute();
}

export async function* allAuditEventsInOrder(db: Kysely<Database>, pageSize = 1000): AsyncGenerator<AuditEventRow> {
  let after = 0;
  for (;;) {
    const page = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(pageSize)
      .execute();
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}
