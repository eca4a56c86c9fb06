import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { reusableQuery } from '../db/reusable-query.js';
import type { ServiceTokenTable } from './token.table.js';

const viewColumns = [
  't.id',
  't.name',
  'p.name as project',
  'e.name as environment',
  't.access',
  't.kind',
  't.created_at',
  't.last_used_at',
  't.expires_at',
  't.revoked_at',
] as const;

function tokensWithNames(db: Kysely<Database>) {
  return db
    .selectFrom('service_tokens as t')
    .innerJoin('projects as p', 'p.id', 't.project_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id');
}

function listTokenViews(db: Kysely<Database>, projectId?: string) {
  let query = tokensWithNames(db).select(viewColumns).orderBy('t.created_at').orderBy('t.id');
  if (projectId !== undefined) query = query.where('t.project_id', '=', projectId);
  return query.execute();
}

function findTokenView(db: Kysely<Database>, id: string) {
  return tokensWithNames(db).select(viewColumns).where('t.id', '=', id).executeTakeFirst();
}

const authQuery = reusableQuery((db, id: string) =>
  db
    .selectFrom('service_tokens')
    .select([
      'id',
      'token_hash',
      'kind',
      'wrapped_key',
      'access',
      'expires_at',
      'revoked_at',
      'last_used_at',
      'project_id',
      'environment_id',
    ])
    .where('id', '=', id),
);

/** What authentication needs: the hash to compare, the scope ids and a keyed token's wrapped key. One primary-key read. */
async function findTokenForAuth(db: Kysely<Database>, id: string) {
  return (await authQuery(db, id))[0];
}

async function insertToken(db: Kysely<Database>, row: ServiceTokenTable): Promise<void> {
  await db.insertInto('service_tokens').values(row).execute();
}

async function markRevoked(db: Kysely<Database>, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('service_tokens')
    .set({ revoked_at: at, wrapped_key: null })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Revokes every keyed token of a tree and deletes its wrapped key; returns those it changed. */
async function withdrawKeyedTokens(db: Kysely<Database>, rootId: string, at: string) {
  const inTree = db.selectFrom('projects').select('id').where('root_id', '=', rootId);
  const rows = await db
    .selectFrom('service_tokens')
    .select(['id', 'project_id', 'revoked_at'])
    .where('kind', '=', 'keyed')
    .where('project_id', 'in', inTree)
    .where((eb) => eb.or([eb('wrapped_key', 'is not', null), eb('revoked_at', 'is', null)]))
    .execute();
  if (rows.length === 0) return [];
  await db
    .updateTable('service_tokens')
    .set((eb) => ({ wrapped_key: null, revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
    .where(
      'id',
      'in',
      rows.map((r) => r.id),
    )
    .execute();
  return rows.filter((r) => r.revoked_at === null);
}

async function touchToken(db: Kysely<Database>, id: string, at: string): Promise<void> {
  await db.updateTable('service_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

export const tokenRepository = Object.freeze({
  listTokenViews,
  findTokenView,
  findTokenForAuth,
  insertToken,
  markRevoked,
  withdrawKeyedTokens,
  touchToken,
});
