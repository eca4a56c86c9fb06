/**
 * A lookup for rows that never change once written (projects and environments are never renamed,
 * re-parented or deleted): a row read once is kept; a miss is not, so a row another process
 * creates later is found on the next call.
 */
export function immutableRows<Key, Row>(load: (key: Key) => Promise<Row | undefined>, missing: (key: Key) => Error) {
  const rows = new Map<Key, Row>();
  return async (key: Key): Promise<Row> => {
    const cached = rows.get(key);
    if (cached) return cached;
    const row = await load(key);
    if (!row) throw missing(key);
    rows.set(key, row);
    return row;
  };
}
