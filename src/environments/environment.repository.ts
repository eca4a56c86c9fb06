import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { EnvironmentRow, EnvironmentTable } from './environment.table.js';

function listEnvironments(db: Kysely<Database>): Promise<EnvironmentRow[]> {
  return db.selectFrom('environments').selectAll().orderBy('created_at').orderBy('name').execute();
}

function findEnvironmentByName(db: Kysely<Database>, name: string): Promise<EnvironmentRow | undefined> {
  return db.selectFrom('environments').selectAll().where('name', '=', name).executeTakeFirst();
}

function findEnvironmentById(db: Kysely<Database>, id: string): Promise<EnvironmentRow | undefined> {
  return db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
}

async function insertEnvironments(db: Kysely<Database>, rows: EnvironmentTable[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('environments').values(rows).execute();
}

export const environmentRepository = Object.freeze({
  listEnvironments,
  findEnvironmentByName,
  findEnvironmentById,
  insertEnvironments,
});
