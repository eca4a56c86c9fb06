import { InvalidRequest } from '../errors.js';
import type { ChainPoint } from './audit-chain.js';

/**
 * A checkpoint is the chain's head as the operator saw it: the number of events and the hash of the
 * last one. Kept off the server, it is what the database alone cannot give: every event up to `seq`
 * is bound into `hash` by SHA-256, so a log that was cut short, or rewritten and re-chained, no
 * longer has that hash at that position (docs/crypto.md, "Audit log").
 */
export interface AuditCheckpoint extends ChainPoint {
  readonly takenAt: string;
}

const FORMAT = 'secretsfly-audit-checkpoint/1';
const HASH = /^[0-9a-f]{64}$/;
/** A checkpoint is one short line; anything longer is not one. */
export const MAX_CHECKPOINT_BYTES = 4096;

export function formatCheckpoint(checkpoint: AuditCheckpoint): string {
  return JSON.stringify({ format: FORMAT, seq: checkpoint.seq, hash: checkpoint.hash, taken_at: checkpoint.takenAt });
}

export function parseCheckpoint(text: string): AuditCheckpoint {
  const bad = (why: string) => new InvalidRequest(`not a secretsfly audit checkpoint: ${why}`);
  if (text.length > MAX_CHECKPOINT_BYTES) throw bad('it is too long');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('it is not JSON');
  }
  const { format, seq, hash, taken_at: takenAt } = (parsed ?? {}) as Record<string, unknown>;
  if (format !== FORMAT) throw bad(`"format" must be "${FORMAT}"`);
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw bad('"seq" must be a whole number');
  if (typeof hash !== 'string' || !HASH.test(hash)) throw bad('"hash" must be 64 hex digits');
  if (typeof takenAt !== 'string' || Number.isNaN(Date.parse(takenAt))) throw bad('"taken_at" must be a date');
  return { seq, hash, takenAt };
}

/**
 * What is wrong with an intact chain of `events` events, whose event `checkpoint.seq` has
 * `hashThere`, given the checkpoint; undefined when it matches.
 */
export function checkpointProblem(
  checkpoint: AuditCheckpoint,
  events: number,
  hashThere: string | undefined,
): string | undefined {
  const taken = `the checkpoint of ${checkpoint.takenAt}`;
  if (events < checkpoint.seq) {
    return `the log has ${events} events but ${taken} saw ${checkpoint.seq}: events were deleted from its end`;
  }
  if (hashThere !== checkpoint.hash) {
    return `event ${checkpoint.seq} is not the one ${taken} saw: the log up to it was rewritten`;
  }
  return undefined;
}
