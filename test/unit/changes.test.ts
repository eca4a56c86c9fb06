import { afterEach, describe, expect, it } from 'vitest';
import { changeGuardedRows } from '../../src/db/changes.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { type DatabaseHandle, openDatabase, writeTransaction } from '../../src/db/open.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { tempDir } from '../helpers/test-context.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

// Two connections to one real file stand for the server and a CLI process.
async function twoConnections() {
  const dir = tempDir();
  const server = openDatabase(dir);
  await migrateToLatest(server.db);
  const cli = openDatabase(dir);
  await server.db.insertInto('environments').values({ id: 'e1', name: 'prod', created_at: 'then' }).execute();
  return { server, cli };
}

const rename = (db: Kysely<Database>, name: string) =>
  db.updateTable('environments').set({ name }).where('id', '=', 'e1').execute();

describe('change-guarded rows', () => {
  const open: DatabaseHandle[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((handle) => handle.close()));
  });

  function counted(handle: DatabaseHandle, db: Kysely<Database> = handle.db) {
    const counter = { loads: 0, db };
    const rows = changeGuardedRows(handle.changes, async (id: string) => {
      counter.loads += 1;
      return counter.db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    });
    return { rows, counter };
  }

  it('should serve a row without reading it again until another process commits, then read it afresh', async () => {
    const { server, cli } = await twoConnections();
    open.push(server, cli);
    const { rows, counter } = counted(server);
    expect((await rows('e1'))?.name).toBe('prod');
    await nextTurn();
    expect((await rows('e1'))?.name).toBe('prod');
    expect(counter.loads).toBe(1);

    await rename(cli.db, 'production');
    await nextTurn();
    expect((await rows('e1'))?.name).toBe('production');
    expect(counter.loads).toBe(2);
  });

  it('should see a write on its own connection at once, in the same turn', async () => {
    const { server, cli } = await twoConnections();
    open.push(server, cli);
    const { rows } = counted(server);
    expect((await rows('e1'))?.name).toBe('prod');
    await rename(server.db, 'live');
    expect((await rows('e1'))?.name).toBe('live');
  });

  it('should not keep what it read inside a transaction that was then rolled back', async () => {
    const { server, cli } = await twoConnections();
    open.push(server, cli);
    const { rows, counter } = counted(server);
    await expect(
      writeTransaction(server.db, async (trx) => {
        await rename(trx, 'phantom');
        counter.db = trx;
        expect((await rows('e1'))?.name).toBe('phantom');
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    counter.db = server.db;
    expect((await rows('e1'))?.name).toBe('prod');
  });

  it('should not keep misses, so unknown ids cannot fill it and a row created later is found', async () => {
    const { server, cli } = await twoConnections();
    open.push(server, cli);
    const { rows, counter } = counted(server);
    expect(await rows('e2')).toBeUndefined();
    expect(await rows('e2')).toBeUndefined();
    expect(counter.loads).toBe(2);
  });
});
