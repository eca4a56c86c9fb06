import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { ProjectRow } from './project.table.js';

function findProjectByName(db: Kysely<Database>, name: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
}

function findProjectById(db: Kysely<Database>, id: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
}

function listProjectRows(db: Kysely<Database>): Promise<ProjectRow[]> {
  return db.selectFrom('projects').selectAll().orderBy('name').execute();
}

function listTreeRows(db: Kysely<Database>, rootId: string): Promise<ProjectRow[]> {
  return db.selectFrom('projects').selectAll().where('root_id', '=', rootId).execute();
}

async function insertProject(db: Kysely<Database>, row: ProjectRow): Promise<void> {
  await db.insertInto('projects').values(row).execute();
}

export const projectRepository = Object.freeze({
  findProjectByName,
  findProjectById,
  listProjectRows,
  listTreeRows,
  insertProject,
});
