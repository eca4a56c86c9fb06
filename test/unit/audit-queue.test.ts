import { describe, expect, it } from 'vitest';
import { createAuditQueue } from '../../src/audit/audit-queue.js';
import type { AuditEvent } from '../../src/audit/audit-types.js';

const read = (ip: string): AuditEvent => ({
  actor: { name: 'token:t1', ip },
  action: 'api_read',
  projectId: 'p',
  details: { token_id: 't1', format: 'json' },
});

describe('audit queue', () => {
  it('should write identical reads as one event with a count, and other events as they came', async () => {
    const batches: AuditEvent[][] = [];
    const queue = createAuditQueue(async (events) => void batches.push(events));
    const write: AuditEvent = { actor: { name: 'token:t1' }, action: 'api_write', key: 'K' };
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    queue.enqueue(write);
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    queue.enqueue(read('10.0.0.2'), { coalesce: true });
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    await queue.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((e) => [e.action, e.actor.ip, e.details?.count])).toEqual([
      ['api_write', undefined, undefined],
      ['api_read', '10.0.0.1', 3],
      ['api_read', '10.0.0.2', undefined],
    ]);
  });

  it('should write on its own shortly after the first event, and nothing when empty', async () => {
    const batches: AuditEvent[][] = [];
    const queue = createAuditQueue(async (events) => void batches.push(events), { delayMs: 10 });
    await queue.flush();
    expect(batches).toEqual([]);
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toHaveLength(1);
  });

  it('should keep a failed batch, report it, and write it first with the next one', async () => {
    const batches: AuditEvent[][] = [];
    const failures: number[] = [];
    let fail = true;
    const queue = createAuditQueue(
      async (events) => {
        if (fail) throw new Error('database is locked');
        batches.push(events);
      },
      { onWriteFailed: (_error, events) => failures.push(events) },
    );
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    await expect(queue.flush()).rejects.toThrow('database is locked');
    expect(failures).toEqual([1]);
    fail = false;
    queue.enqueue(read('10.0.0.2'));
    await queue.flush();
    expect(batches.map((b) => b.map((e) => [e.actor.ip, e.details?.count]))).toEqual([
      [
        ['10.0.0.1', 2],
        ['10.0.0.2', undefined],
      ],
    ]);
  });

  it('should retry a failed batch on its own after a backoff', async () => {
    const batches: AuditEvent[][] = [];
    let attempts = 0;
    const queue = createAuditQueue(
      async (events) => {
        attempts += 1;
        if (attempts < 3) throw new Error('database is locked');
        batches.push(events);
      },
      { delayMs: 5, retryMs: 10 },
    );
    queue.enqueue(read('10.0.0.1'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(attempts).toBe(3);
    expect(batches).toHaveLength(1);
  });

  it('should hold at most maxPending events and write how many it left out', async () => {
    const batches: AuditEvent[][] = [];
    const dropping: number[] = [];
    let fail = true;
    const queue = createAuditQueue(
      async (events) => {
        if (fail) throw new Error('database is locked');
        batches.push(events);
      },
      { maxPending: 3, onDropping: (held) => dropping.push(held) },
    );
    for (let i = 0; i < 10; i++) queue.enqueue(read(`10.0.0.${i}`), { coalesce: true });
    // An identical read still counts: it takes no more memory.
    queue.enqueue(read('10.0.0.0'), { coalesce: true });
    await expect(queue.flush()).rejects.toThrow();
    expect(queue.pending()).toBe(4);
    fail = false;
    await queue.flush();
    expect(dropping).toEqual([3]);
    expect(batches[0]!.map((e) => [e.action, e.details?.count])).toEqual([
      ['api_read', 2],
      ['api_read', undefined],
      ['api_read', undefined],
      ['audit_dropped', 7],
    ]);
  });

  it('should stamp each event with the time it was queued, not written', async () => {
    let clock = new Date('2030-01-01T00:00:00.000Z');
    const batches: AuditEvent[][] = [];
    const queue = createAuditQueue(async (events) => void batches.push(events), { now: () => clock });
    queue.enqueue(read('10.0.0.1'));
    clock = new Date('2030-01-01T00:05:00.000Z');
    await queue.flush();
    expect(batches[0]![0]!.at).toBe('2030-01-01T00:00:00.000Z');
  });
});
