import type { AuditEvent } from './audit-types.js';

export interface AuditQueueOptions {
  /** How long the first event waits for others to share its transaction. */
  readonly delayMs?: number;
  /** Events (distinct coalesced ones count once) held while writes fail; beyond it they are counted, not kept. */
  readonly maxPending?: number;
  /** First wait before retrying a failed write; it doubles per failure up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** A write failed; its events are kept for the next attempt. */
  readonly onWriteFailed?: (error: unknown, events: number, failures: number) => void;
  /** The first event that had to be left out since the last successful write. */
  readonly onDropping?: (held: number) => void;
  readonly now?: () => Date;
}

/**
 * API events are batched: one transaction every `delayMs` instead of one per request. Identical
 * reads within a batch (same token, address, agent, scope, format and list of keys received) become
 * one event with a count and the time of the last: at thousands of pulls a second, one row each
 * would outgrow everything else stored.
 * `enqueue` is synchronous and cheap: it runs on the API's per-request path.
 *
 * A batch that fails to write (another process holds the write lock) is kept and retried, ahead of
 * what came meanwhile. Memory is bounded: past `maxPending` events are only counted, and the count
 * is written as one `audit_dropped` event with the next batch, so the log itself says it has a gap.
 */
export function createAuditQueue(write: (events: AuditEvent[]) => Promise<void>, options: AuditQueueOptions = {}) {
  const { delayMs = 100, maxPending = 10_000, retryMs = 1000, maxRetryMs = 5000 } = options;
  const now = options.now ?? (() => new Date());
  let retry: AuditEvent[] = [];
  let queue: AuditEvent[] = [];
  const reads = new Map<string, { event: AuditEvent; count: number; lastAt: string }>();
  let dropped = 0;
  let failures = 0;
  let flushing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const held = () => retry.length + queue.length + reads.size;

  function schedule(ms: number): void {
    timer ??= setTimeout(() => void flush().catch(() => {}), ms).unref();
  }

  function drop(): void {
    if (dropped === 0) options.onDropping?.(held());
    dropped += 1;
  }

  // Stamped now, not when written: a batch retried a minute later still says when it happened.
  const stamped = (event: AuditEvent): AuditEvent => (event.at ? event : { ...event, at: now().toISOString() });

  /** Queues an event to be written with others shortly; `flush` (also run on close) writes them now. */
  function enqueue(event: AuditEvent, options: { coalesce?: boolean } = {}): void {
    if (options.coalesce) {
      // `received` (the key list for the access log) is left out: details.keys_sha256 names it.
      const { actor, at: _at, received: _received, ...rest } = event;
      const key = JSON.stringify([actor.name, actor.ip, actor.userAgent, rest]);
      const seen = reads.get(key);
      if (seen) {
        seen.count += 1;
        seen.lastAt = event.at ?? now().toISOString();
      } else if (held() < maxPending) {
        const first = stamped(event);
        reads.set(key, { event: first, count: 1, lastAt: first.at! });
      } else drop();
    } else if (held() < maxPending) queue.push(stamped(event));
    else drop();
    // While writes fail, the backoff timer alone decides when to try again.
    if (failures === 0) schedule(delayMs);
  }

  function take(): { batch: AuditEvent[]; lost: number } {
    const batch = [
      ...retry,
      ...queue,
      // A coalesced event says how many reads it stands for, and when the last one was.
      ...[...reads.values()].map(({ event, count, lastAt }) =>
        count === 1 ? event : { ...event, details: { ...event.details, count, last_at: lastAt } },
      ),
    ];
    const lost = dropped;
    if (lost > 0) batch.push({ actor: { name: 'system' }, action: 'audit_dropped', details: { count: lost } });
    retry = [];
    queue = [];
    reads.clear();
    dropped = 0;
    return { batch, lost };
  }

  async function writeTaken(): Promise<void> {
    const { batch, lost } = take();
    if (batch.length === 0) return;
    try {
      await write(batch);
      failures = 0;
    } catch (error) {
      retry = lost > 0 ? batch.slice(0, -1) : batch;
      dropped += lost;
      failures += 1;
      options.onWriteFailed?.(error, batch.length, failures);
      if (timer) clearTimeout(timer);
      timer = undefined;
      schedule(Math.min(retryMs * 2 ** (failures - 1), maxRetryMs));
      throw error;
    }
  }

  /**
   * Writes what is pending (failed batches first) after any batch already being written. Rejects
   * if this attempt fails; its events stay pending and a retry is scheduled.
   */
  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    // A failed batch fails its own flush only: chaining on it directly would skip every later one.
    const written = flushing.catch(() => {}).then(writeTaken);
    flushing = written;
    return written;
  }

  /** Events waiting to be written (a coalesced group counts once), for tests and shutdown messages. */
  const pending = () => held() + (dropped > 0 ? 1 : 0);

  return { enqueue, flush, pending };
}

export type AuditQueue = ReturnType<typeof createAuditQueue>;
