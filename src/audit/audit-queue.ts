import type { AuditEvent } from './audit-types.js';

/**
 * API events are batched: one transaction every `delayMs` instead of one per request. Identical
 * reads within a batch (same token, address, agent, scope and format) become one event with a
 * count: at thousands of pulls a second, one row each would outgrow everything else stored.
 * `enqueue` is synchronous and cheap: it runs on the API's per-request path.
 */
export function createAuditQueue(write: (events: AuditEvent[]) => Promise<void>, delayMs = 100) {
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
    timer ??= setTimeout(() => void flush().catch(() => {}), delayMs).unref();
  }

  /** Writes what is queued, after any batch already being written. Rejects if this batch fails. */
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
    // A failed batch fails its own flush only: chaining on it directly would skip every later batch.
    const written = flushing.catch(() => {}).then(() => (batch.length === 0 ? undefined : write(batch)));
    flushing = written;
    return written;
  }

  return { enqueue, flush };
}

export type AuditQueue = ReturnType<typeof createAuditQueue>;
