import { describe, expect, it } from 'vitest';
import type { AuditEventRow } from '../../src/audit/audit.table.js';
import {
  CHAIN_START,
  GENESIS_HASH,
  hashEvent,
  linkEvents,
  redactDetails,
  toUnchainedRow,
  verifyChain,
} from '../../src/audit/audit-chain.js';

const at = '2024-05-01T10:00:00.000Z';
const chainOf = (count: number): AuditEventRow[] =>
  linkEvents(
    CHAIN_START,
    Array.from({ length: count }, (_, i) =>
      toUnchainedRow({ actor: { name: `user:${i}` }, action: 'secret_written', key: `K${i}` }, at),
    ),
  );

describe('audit chain', () => {
  it('should hash an event exactly as the chains already stored were hashed', () => {
    const row = {
      seq: 7,
      at,
      actor: 'user:ünï',
      action: 'secret_written',
      project_id: 'p-1',
      environment: 'prod',
      key: 'DB_URL',
      ip: '127.0.0.1',
      user_agent: 'curl/8',
      details: '{"version":3}',
      prev_hash: 'ab'.repeat(32),
    };
    expect(hashEvent(row)).toBe('88216badcda527898e70956b9342e614c44e36a0f49657373889e502ab032ad8');
  });

  it('should number events on from the last one and link each to the one before', () => {
    const first = chainOf(2);
    expect(first.map((row) => row.seq)).toEqual([1, 2]);
    expect(first[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(first[1]!.prev_hash).toBe(first[0]!.hash);
    const more = linkEvents({ seq: 2, hash: first[1]!.hash }, [
      toUnchainedRow({ actor: { name: 'x' }, action: 'seal' }, at),
    ]);
    expect(more[0]).toMatchObject({ seq: 3, prev_hash: first[1]!.hash });
    expect(verifyChain([...first, ...more])).toEqual({ ok: true, last: { seq: 3, hash: more[0]!.hash } });
  });

  it('should verify a stretch of the chain from a point already verified', () => {
    const rows = chainOf(5);
    const from = { seq: 2, hash: rows[1]!.hash };
    expect(verifyChain(rows.slice(2), from)).toEqual({ ok: true, last: { seq: 5, hash: rows[4]!.hash } });
    expect(verifyChain([], from)).toEqual({ ok: true, last: from });
  });

  it('should name the first altered, missing or unlinked event and stop before it', () => {
    const rows = chainOf(5);
    const last2 = { seq: 2, hash: rows[1]!.hash };
    expect(verifyChain(rows.map((row) => (row.seq === 3 ? { ...row, actor: 'someone-else' } : row)))).toEqual({
      ok: false,
      last: last2,
      problem: 'event 3 was altered',
    });
    expect(verifyChain(rows.filter((row) => row.seq !== 3))).toMatchObject({
      ok: false,
      last: last2,
      problem: 'event 3 is missing (next is 4)',
    });
    expect(verifyChain(rows.map((row) => (row.seq === 3 ? { ...row, prev_hash: 'f'.repeat(64) } : row)))).toMatchObject(
      {
        ok: false,
        problem: 'event 3 does not follow event 2',
      },
    );
    expect(verifyChain(rows.slice(1))).toMatchObject({ ok: false, problem: 'event 1 is missing (next is 2)' });
  });

  it('should redact details named like key material, but not ids', () => {
    const details = { token_id: 'abc', token: 't', master_key: 'm', key: 'k', Password: 'p', version: 3, ok: true };
    expect(JSON.parse(redactDetails(details)!)).toEqual({
      token_id: 'abc',
      token: '[redacted]',
      master_key: '[redacted]',
      key: '[redacted]',
      Password: '[redacted]',
      version: 3,
      ok: true,
    });
    expect(redactDetails(undefined)).toBeNull();
  });

  it('should bound what an actor brings in', () => {
    const row = toUnchainedRow(
      { actor: { name: 'n'.repeat(300), ip: 'i'.repeat(100), userAgent: 'u'.repeat(600) }, action: 'login' },
      at,
    );
    expect([row.actor.length, row.ip!.length, row.user_agent!.length]).toEqual([200, 64, 512]);
    expect(row).toMatchObject({ project_id: null, environment: null, key: null, details: null });
  });
});
