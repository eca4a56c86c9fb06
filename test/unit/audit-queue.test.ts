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
    const queue = createAuditQueue(async (events) => void batches.push(events), 10);
    await queue.flush();
    expect(batches).toEqual([]);
    queue.enqueue(read('10.0.0.1'), { coalesce: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toHaveLength(1);
  });

  it('should keep writing later batches after one failed', async () => {
    const batches: AuditEvent[][] = [];
    let fail = true;
    const queue = createAuditQueue(async (events) => {
      if (fail) throw new Error('database is locked');
      batches.push(events);
    });
    queue.enqueue(read('10.0.0.1'));
    await expect(queue.flush()).rejects.toThrow('database is locked');
    fail = false;
    queue.enqueue(read('10.0.0.2'));
    await queue.flush();
    expect(batches.map((b) => b.map((e) => e.actor.ip))).toEqual([['10.0.0.2']]);
  });
});
