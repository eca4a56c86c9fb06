import { type Compilable, CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './database.js';

/**
 * A hot query built and compiled by kysely once, then run with fresh parameters: building and
 * compiling cost more than SQLite's lookup on the API's per-request path. `build` must take its
 * parameters in the order `run` is given them.
 */
export function reusableQuery<Row, Params extends unknown[]>(
  build: (db: Kysely<Database>, ...params: Params) => Compilable<Row>,
) {
  let compiledSql: string | undefined;
  // The SQL is the dialect's (`?` or `$1`): a process that opens both engines (bench) compiles again.
  let compiledFor: unknown;
  return async (db: Kysely<Database>, ...params: Params): Promise<Row[]> => {
    const { adapter } = db.getExecutor();
    if (compiledSql === undefined || compiledFor !== adapter.constructor) {
      compiledFor = adapter.constructor;
      const compiled = build(db, ...params).compile();
      if (compiled.parameters.length !== params.length)
        throw new Error('a reusable query must bind exactly its parameters');
      compiledSql = compiled.sql;
    }
    return (await db.executeQuery<Row>(CompiledQuery.raw(compiledSql, params))).rows;
  };
}
