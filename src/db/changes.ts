import type SqliteDatabase from 'better-sqlite3';

/**
 * Whether the database may have changed since a value was read, for one statement per event-loop
 * turn instead of a query per cached row. `PRAGMA data_version` moves when any other connection
 * commits (another process: the CLI, a second server); `total_changes()` moves with every row this
 * connection writes, committed or rolled back.
 */
export interface Changes {
  /** Equal stamps: nothing was written in between, by anyone (a round trip on PostgreSQL: postgres.ts). */
  stamp(): string | Promise<string>;
  /** A transaction is open on this connection: what it reads may not be committed. */
  inTransaction(): boolean;
  /** This connection is about to write: the next stamp is read afresh. */
  writing(): void;
  /** A request arrived (servers only): PostgreSQL's stamp read before it may not answer it. */
  arrived(): void;
}

/**
 * The stamp is read at most once per event-loop turn (it costs several microseconds: the requests a
 * turn handles share it) and afresh after any write on this connection. Another process's commit is
 * seen from the next turn: as if it had committed a moment later.
 */
export function trackChanges(sqlite: SqliteDatabase.Database): Changes {
  const query = sqlite.prepare('select data_version, total_changes() from pragma_data_version').raw();
  let current: string | undefined;
  const forget = () => {
    current = undefined;
  };
  return {
    stamp() {
      if (current === undefined) {
        current = (query.get() as [number, number]).join(':');
        setImmediate(forget);
      }
      return current;
    },
    inTransaction: () => sqlite.inTransaction,
    writing: forget,
    // Another process's commit shows in data_version at once: nothing to count.
    arrived: () => undefined,
  };
}

/**
 * A read-through cache of rows that can change (a token's revocation, a root's revision), valid
 * only while the database has not changed at all: any write anywhere empties it. Hot lookups on the
 * API's per-request path use it; misses are not kept, so unknown ids cannot fill it.
 */
export function changeGuardedRows<Key, Row>(changes: Changes, load: (key: Key) => Promise<Row | undefined>) {
  const rows = new Map<Key, Row>();
  let validAt = '';
  return async (key: Key): Promise<Row | undefined> => {
    const before = await changes.stamp();
    if (before !== validAt) {
      rows.clear();
      validAt = before;
    }
    const cached = rows.get(key);
    if (cached) return cached;
    const row = await load(key);
    // Kept only if nothing was written while it loaded and it is committed data.
    if (row && (await changes.stamp()) === before && validAt === before && !changes.inTransaction()) rows.set(key, row);
    return row;
  };
}
