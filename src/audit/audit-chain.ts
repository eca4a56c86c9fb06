import { sha256Hex } from '../crypto/hash.js';
import type { AuditEventRow, AuditEventTable } from './audit.table.js';
import type { AuditEvent } from './audit-types.js';

/**
 * The hash chain of the audit log, as pure functions: `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical
 * event)`, where the canonical event is the JSON of its columns in a fixed order. An edited row
 * breaks its own hash; a deleted or inserted row breaks the sequence and the next prev_hash.
 */

/** The prev_hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** The last event of a verified (or written) stretch of the chain; seq 0 is the start. */
export interface ChainPoint {
  readonly seq: number;
  readonly hash: string;
}

export const CHAIN_START: ChainPoint = Object.freeze({ seq: 0, hash: GENESIS_HASH });

type UnchainedRow = Omit<AuditEventTable, 'seq' | 'prev_hash' | 'hash'>;

// Defence in depth: services never pass values, but a detail named like key material is dropped anyway.
const SENSITIVE_DETAIL = /secret|token|password|passphrase|master|value|cipher|dek|kek|salt|^key$/i;

export function redactDetails(details: AuditEvent['details']): string | null {
  if (!details) return null;
  const safe = Object.fromEntries(
    Object.entries(details).map(([name, value]) => [
      name,
      SENSITIVE_DETAIL.test(name) && !name.endsWith('_id') ? '[redacted]' : value,
    ]),
  );
  return JSON.stringify(safe);
}

/** The columns an event is stored as, bounded and redacted, before it is linked into the chain. */
export function toUnchainedRow(event: AuditEvent, at: string): UnchainedRow {
  return {
    at: event.at ?? at,
    actor: event.actor.name.slice(0, 200),
    action: event.action,
    project_id: event.projectId ?? null,
    environment: event.environment ?? null,
    key: event.key ?? null,
    ip: event.actor.ip?.slice(0, 64) ?? null,
    user_agent: event.actor.userAgent?.slice(0, 512) ?? null,
    details: redactDetails(event.details),
  };
}

export function canonicalEvent(row: Omit<AuditEventTable, 'prev_hash' | 'hash'>): string {
  return JSON.stringify([
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
}

export function hashEvent(row: Omit<AuditEventTable, 'hash'>): string {
  return sha256Hex(`${row.prev_hash}\n${canonicalEvent(row)}`);
}

/** Numbers `rows` on from `after` and links each to the one before. */
export function linkEvents(after: ChainPoint, rows: readonly UnchainedRow[]): AuditEventTable[] {
  let { seq, hash } = after;
  return rows.map((row) => {
    const linked = { ...row, seq: (seq += 1), prev_hash: hash };
    hash = hashEvent(linked);
    return { ...linked, hash };
  });
}

export type ChainCheck =
  | { readonly ok: true; readonly last: ChainPoint }
  | { readonly ok: false; readonly last: ChainPoint; readonly problem: string };

/**
 * Checks that `rows` (in seq order) continue the chain right after `from`. `last` is the last
 * event found intact. Cutting events off the end leaves a shorter valid chain: compare the count
 * with one noted earlier to catch that.
 */
export function verifyChain(rows: Iterable<AuditEventRow>, from: ChainPoint = CHAIN_START): ChainCheck {
  let seq = from.seq;
  let hash = from.hash;
  const broken = (problem: string): ChainCheck => ({ ok: false, last: { seq, hash }, problem });
  for (const row of rows) {
    if (row.seq !== seq + 1) return broken(`event ${seq + 1} is missing (next is ${row.seq})`);
    if (row.prev_hash !== hash) return broken(`event ${row.seq} does not follow event ${row.seq - 1}`);
    if (hashEvent(row) !== row.hash) return broken(`event ${row.seq} was altered`);
    seq = row.seq;
    hash = row.hash;
  }
  return { ok: true, last: { seq, hash } };
}
