import { describe, expect, it } from 'vitest';
import { trackPostgresChanges } from '../../src/db/postgres.js';

/**
 * The coherence rule on PostgreSQL (docs/architecture.md, "Several instances"): every request is
 * answered with a stamp read that started after it arrived, and requests of one turn share a read.
 */
function fakeDatabase() {
  let stamp = 0;
  const started: number[] = [];
  return {
    started,
    commit: () => (stamp += 1),
    read: async () => {
      started.push(stamp);
      return String(stamp);
    },
  };
}
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the PostgreSQL change stamp', () => {
  it('should share one read among the requests of a turn, read after all of them arrived', async () => {
    const database = fakeDatabase();
    const changes = trackPostgresChanges(database.read);
    changes.arrived();
    const first = changes.stamp();
    // Another instance commits, then a second request arrives in the same turn.
    database.commit();
    changes.arrived();
    const second = changes.stamp();
    expect(await first).toBe('1');
    expect(await second).toBe('1');
    expect(database.started).toEqual([1]);
  });

  it('should reuse a finished read until a request arrives or this process writes', async () => {
    const database = fakeDatabase();
    const changes = trackPostgresChanges(database.read);
    changes.arrived();
    expect(await changes.stamp()).toBe('0');
    database.commit();
    // The same request asking again: its arrival came before the read, which stays valid for it.
    expect(await changes.stamp()).toBe('0');
    expect(database.started).toHaveLength(1);
    // The next request sees the commit made before it arrived.
    changes.arrived();
    expect(await changes.stamp()).toBe('1');
    // A write here: the next stamp is read afresh, even within the same request.
    changes.writing();
    database.commit();
    expect(await changes.stamp()).toBe('2');
    expect(database.started).toHaveLength(3);
  });

  it('should read afresh for every call outside a server (nothing counts arrivals)', async () => {
    const database = fakeDatabase();
    const changes = trackPostgresChanges(database.read);
    expect(await changes.stamp()).toBe('0');
    database.commit();
    expect(await changes.stamp()).toBe('1');
    await nextTurn();
    expect(database.started).toEqual([0, 1]);
  });

  it('should not keep a failed read: the next call reads again', async () => {
    let fail = true;
    const changes = trackPostgresChanges(async () => {
      if (fail) throw new Error('connection lost');
      return '7';
    });
    changes.arrived();
    await expect(changes.stamp()).rejects.toThrow('connection lost');
    fail = false;
    expect(await changes.stamp()).toBe('7');
  });
});
