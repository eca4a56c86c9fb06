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

/** Which events a listing holds; every field narrows it. */
export interface AuditEventFilter {
  readonly projectIds?: readonly string[];
  readonly action?: string;
  /** An actor as recorded (`user:admin`), or the name after its kind (`admin` finds `user:admin` and `token:admin`). */
  readonly actor?: string;
  /** Events at or after this ISO 8601 time (a date alone means its first instant, UTC). */
  readonly since?: string;
  /** Events before this ISO 8601 time. */
  readonly until?: string;
  readonly beforeSeq?: number;
  readonly afterSeq?: number;
  /** `desc` (default): newest first. `asc`: oldest first, e.g. the page just after `afterSeq`. */
  readonly order?: 'asc' | 'desc';
  readonly limit: number;
}

const actorsNamed = (actor: string): string[] =>
  actor.includes(':') ? [actor] : [actor, `user:${actor}`, `token:${actor}`];

function listEvents(db: Kysely<Database>, filter: AuditEventFilter): Promise<AuditEventRow[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .orderBy('seq', filter.order ?? 'desc')
    .limit(filter.limit);
  if (filter.projectIds) query = query.where('project_id', 'in', filter.projectIds.length ? filter.projectIds : ['']);
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.actor) query = query.where('actor', 'in', actorsNamed(filter.actor));
  // `at` is ISO 8601 text in UTC, so text order is time order on both engines.
  if (filter.since) query = query.where('at', '>=', filter.since);
  if (filter.until) query = query.where('at', '<', filter.until);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
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
