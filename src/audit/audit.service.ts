import type { Kysely } from 'kysely';
import { sha256Hex } from '../crypto/hash.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import {
  allAuditEventsInOrder,
  findLastAuditEvent,
  insertAuditEvents,
  listAuditEventRows,
} from './audit.repository.js';
import type { AuditAction } from './audit-actions.js';
import type { AuditEventRow, AuditEventTable } from './audit.table.js';

export type { AuditAction } from './audit-actions.js';

/** Who did it and from where; services receive it from the route or the CLI. */
export interface Actor {
  readonly name: string;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

export interface AuditEvent {
  readonly actor: Actor;
  readonly action: AuditAction;
  readonly projectId?: string | null;
  readonly environment?: string | null;
  readonly key?: string | null;
  readonly details?: Record<string, string | number | boolean | null>;
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly projectId: string | null;
  readonly environment: string | null;
  readonly key: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly details: Record<string, unknown> | null;
}

export type AuditVerification = { ok: true; events: number } | { ok: false; events: number; problem: string };

const GENESIS = '0'.repeat(64);
// Defence in depth: services never pass values, but a detail named like key material is dropped anyway.
const SENSITIVE_DETAIL = /secret|token|password|passphrase|master|value|cipher|dek|kek|salt|^key$/i;

function redact(details: AuditEvent['details']): string | null {
  if (!details) return null;
  const safe = Object.fromEntries(
    Object.entries(details).map(([name, value]) => [
      name,
      SENSITIVE_DETAIL.test(name) && !name.endsWith('_id') ? '[redacted]' : value,
    ]),
  );
  return JSON.stringify(safe);
}

function hashOf(row: Omit<AuditEventTable, 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.project_id,
    row.environment,
    row.key,
    row.ip,
    row.user_agent,
    row.details,
  ]);
  return sha256Hex(`${row.prev_hash}\n${canonical}`);
}

export function createAuditService({ db, now }: { db: Kysely<Database>; now: () => Date }) {
  /** Appends inside the caller's transaction, so the events commit or roll back with the change. */
  async function record(trx: Kysely<Database>, ...events: AuditEvent[]): Promise<void> {
    const last = await findLastAuditEvent(trx);
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS;
    const at = now().toISOString();
    const rows = events.map((event): AuditEventTable => {
      const row: Omit<AuditEventTable, 'hash'> = {
        seq: (seq += 1),
        at,
        actor: event.actor.name.slice(0, 200),
        action: event.action,
        project_id: event.projectId ?? null,
        environment: event.environment ?? null,
        key: event.key ?? null,
        ip: event.actor.ip?.slice(0, 64) ?? null,
        user_agent: event.actor.userAgent?.slice(0, 512) ?? null,
        details: redact(event.details),
        prev_hash: prevHash,
      };
      prevHash = hashOf(row);
      return { ...row, hash: prevHash };
    });
    // One statement per 50 events (12 columns each, well under SQLite's bound-parameter limit).
    for (let i = 0; i < rows.length; i += 50) await insertAuditEvents(trx, rows.slice(i, i + 50));
  }

  /** For events that change nothing else (a failed unseal, a denied request). */
  function recordAlone(event: AuditEvent): Promise<void> {
    return writeTransaction(db, (trx) => record(trx, event));
  }

  // API events are batched: one transaction every 100 ms instead of one per request. Identical
  // reads within a batch (same token, address, agent, scope and format) become one event with a
  // count: at thousands of pulls a second, one row each would outgrow everything else stored.
  let queue: AuditEvent[] = [];
  const reads = new Map<string, { event: AuditEvent; count: number }>();
  let flushing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  /** Queues an event to be written with others shortly; `flush` (also run on close) writes them now. */
  function enqueue(event: AuditEvent, options: { coalesce?: boolean } = {}): void {
    if (options.coalesce) {
      const { actor, ...rest } = event;
      const key = JSON.stringify([actor.name, actor.ip, actor.userAgent, rest]);
      const seen = reads.get(key);
      if (seen) seen.count += 1;
      else reads.set(key, { event, count: 1 });
    } else queue.push(event);
    timer ??= setTimeout(() => void flush().catch(() => {}), 100).unref();
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = [
      ...queue,
      ...[...reads.values()].map(({ event, count }) =>
        count === 1 ? event : { ...event, details: { ...event.details, count } },
      ),
    ];
    queue = [];
    reads.clear();
    flushing = flushing.then(async () => {
      if (batch.length === 0) return;
      await writeTransaction(db, (trx) => record(trx, ...batch));
    });
    return flushing;
  }

  async function list(filter: { projectIds?: readonly string[]; action?: string; limit?: number; beforeSeq?: number }) {
    const rows = await listAuditEventRows(db, { ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000) });
    return rows.map(toEntry);
  }

  /**
   * Recomputes the chain from the first event. An edited row breaks its own hash; a deleted or
   * inserted row breaks the sequence and the next prev_hash. (Cutting events off the end leaves a
   * shorter valid chain; compare the count with one you noted earlier to catch that.)
   */
  async function verify(): Promise<AuditVerification> {
    let expectedSeq = 1;
    let prevHash = GENESIS;
    for await (const row of allAuditEventsInOrder(db)) {
      if (row.seq !== expectedSeq) {
        return { ok: false, events: expectedSeq - 1, problem: `event ${expectedSeq} is missing (next is ${row.seq})` };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, events: expectedSeq - 1, problem: `event ${row.seq} does not follow event ${row.seq - 1}` };
      }
      if (hashOf(row) !== row.hash) {
        return { ok: false, events: expectedSeq - 1, problem: `event ${row.seq} was altered` };
      }
      prevHash = row.hash;
      expectedSeq += 1;
    }
    return { ok: true, events: expectedSeq - 1 };
  }

  return { record, recordAlone, enqueue, flush, list, verify };
}

export type AuditService = ReturnType<typeof createAuditService>;

function toEntry(row: AuditEventRow): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    projectId: row.project_id,
    environment: row.environment,
    key: row.key,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
  };
}
