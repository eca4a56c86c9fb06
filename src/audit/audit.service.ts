import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { errorSummary, type Logger } from '../logger.js';
import { type AuditEventFilter, auditRepository } from './audit.repository.js';
import type { AuditEventRow } from './audit.table.js';
import {
  CHAIN_START,
  type ChainCheck,
  type ChainPoint,
  linkEvents,
  toUnchainedRow,
  verifyChain,
} from './audit-chain.js';
import { type AuditCheckpoint, checkpointProblem } from './audit-checkpoint.js';
import { createAuditQueue } from './audit-queue.js';
import { recordAccess } from './secret-access.js';
import type { AuditEntry, AuditEvent, AuditVerification } from './audit-types.js';
import { createTokenRejections } from './token-rejections.js';

export type { AuditAction } from './audit-actions.js';
export type { AccessVia, Actor, AuditEntry, AuditEvent, AuditVerification, ReceivedKeys } from './audit-types.js';
export type { RejectedToken, TokenRejection } from './token-rejections.js';

/** Events read per query while walking the chain; other work runs between pages. */
const WALK_PAGE = 1000;
/**
 * How long a queued batch waits for another process's write lock. better-sqlite3 waits
 * synchronously, so the connection's usual busy timeout would stall every request for seconds; a
 * batch that misses the lock is kept and retried instead.
 */
const QUEUE_LOCK_WAIT_MS = 100;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** SQLite's busy write lock, or PostgreSQL's lock_timeout on the write lock (55P03). */
const isLockWait = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === '55P03';
};

const toVerification = (check: ChainCheck): AuditVerification =>
  check.ok ? { ok: true, events: check.last.seq } : { ok: false, events: check.last.seq, problem: check.problem };

export function createAuditService({
  db,
  now,
  logger,
}: {
  db: Kysely<Database>;
  now: () => Date;
  logger: Pick<Logger, 'error' | 'warn'>;
}) {
  /** Appends inside the caller's transaction, so the events commit or roll back with the change. */
  async function record(trx: Kysely<Database>, ...events: AuditEvent[]): Promise<void> {
    const last = await auditRepository.findLastEvent(trx);
    const at = now().toISOString();
    const rows = linkEvents(
      last ?? CHAIN_START,
      events.map((event) => toUnchainedRow(event, at)),
    );
    // One statement per 50 events (12 columns each, well under SQLite's bound-parameter limit).
    for (let i = 0; i < rows.length; i += 50) await auditRepository.insertEvents(trx, rows.slice(i, i + 50));
    // Reads that handed out values: the access log, in the same transaction as the events it comes from.
    if (events.some((event) => event.received)) await recordAccess(trx, rows, events);
  }

  /** For events that change nothing else (a failed unseal, a denied request). */
  function recordAlone(event: AuditEvent): Promise<void> {
    return writeTransaction(db, (trx) => record(trx, event));
  }

  /** A queued batch in one transaction, waiting at most QUEUE_LOCK_WAIT_MS for the write lock. */
  function writeQueued(events: AuditEvent[]): Promise<void> {
    return writeTransaction(db, (trx) => record(trx, ...events), { lockWaitMs: QUEUE_LOCK_WAIT_MS });
  }

  const queue = createAuditQueue(writeQueued, {
    now,
    // Another writer holding the lock past the short wait is ordinary (several instances, a CLI
    // write): a warning. Anything else, or a wait that keeps failing, is an error.
    onWriteFailed: (error, events, failures) =>
      logger[isLockWait(error) && failures < 5 ? 'warn' : 'error']('audit events not written yet: kept for a retry', {
        events,
        ...errorSummary(error),
      }),
    onDropping: (held) =>
      logger.error('audit queue full: further events are counted in an audit_dropped event, not kept', { held }),
  });
  const rejections = createTokenRejections(queue.enqueue, { now });

  /** Writes every queued event now (refused tokens of the current window included). */
  function flush(): Promise<void> {
    rejections.drain();
    return queue.flush();
  }

  async function list(filter: Omit<AuditEventFilter, 'limit'> & { limit?: number }) {
    const rows = await auditRepository.listEvents(db, {
      ...filter,
      limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000),
    });
    return rows.map(toEntry);
  }

  /**
   * Walks the chain on from `from`, a page at a time. Reading and hashing are synchronous, so the
   * walk yields between pages: a million events must not stall the requests the server is serving.
   */
  async function walk(from: ChainPoint): Promise<ChainCheck> {
    let check: ChainCheck = { ok: true, last: from };
    for (;;) {
      const page = await auditRepository.listEventsAfter(db, check.last.seq, WALK_PAGE);
      check = verifyChain(page, check.last);
      if (!check.ok || page.length < WALK_PAGE) return check;
      await nextTurn();
    }
  }

  // The last event this process found intact; verifyIncrementally checks only what follows it.
  let verified: ChainPoint = CHAIN_START;
  let incremental: Promise<AuditVerification> | undefined;

  /**
   * Recomputes the whole chain from the first event (`secretsfly audit --verify`). With a checkpoint
   * kept off the server, also checks that the log still has that event, with that hash: the chain
   * alone cannot tell a log cut short or re-chained by someone who could write the database.
   */
  async function verify(checkpoint?: AuditCheckpoint): Promise<AuditVerification> {
    const check = await walk(CHAIN_START);
    verified = check.last;
    if (!check.ok || !checkpoint) return toVerification(check);
    const hashThere = checkpoint.seq === 0 ? CHAIN_START.hash : await auditRepository.findEventHash(db, checkpoint.seq);
    const problem = checkpointProblem(checkpoint, check.last.seq, hashThere);
    return problem ? { ok: false, events: check.last.seq, problem } : toVerification(check);
  }

  /**
   * The head of the chain, for the operator to keep off the server (`secretsfly audit checkpoint`):
   * only once the whole chain checks out, so that a checkpoint never vouches for an altered log.
   */
  async function checkpoint(): Promise<{ ok: true; checkpoint: AuditCheckpoint } | { ok: false; problem: string }> {
    await flush();
    const check = await walk(CHAIN_START);
    if (!check.ok) return { ok: false, problem: check.problem };
    return { ok: true, checkpoint: { ...check.last, takenAt: now().toISOString() } };
  }

  /**
   * Checks the events written since the last check in this process, and that the last event
   * found intact then is still there unchanged. An edit to an event before it goes unnoticed
   * here: only `verify` finds it. Concurrent callers share one walk.
   */
  function verifyIncrementally(): Promise<AuditVerification> {
    incremental ??= verifySinceLastCheck().finally(() => {
      incremental = undefined;
    });
    return incremental;
  }

  async function verifySinceLastCheck(): Promise<AuditVerification> {
    const from = verified;
    if (from.seq > 0) {
      const hash = await auditRepository.findEventHash(db, from.seq);
      if (hash !== from.hash) {
        const what = hash === undefined ? 'deleted' : 'altered';
        return { ok: false, events: 0, problem: `event ${from.seq} was ${what} after it had been verified` };
      }
    }
    const check = await walk(from);
    verified = check.last;
    return toVerification(check);
  }

  return {
    record,
    recordAlone,
    enqueue: queue.enqueue,
    noteRejectedToken: rejections.note,
    flush,
    list,
    verify,
    checkpoint,
    verifyIncrementally,
  };
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
