import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { type HostHeldSecretRow, type HostHeldSecretTable, withAgentTables } from './host-held.table.js';

/** The titles held on hosts in one project and environment (every agent, or one), by name. */
function listInScope(
  db: Kysely<Database>,
  projectId: string,
  environmentId: string,
  agent?: string,
): Promise<HostHeldSecretRow[]> {
  let query = withAgentTables(db)
    .selectFrom('host_held_secrets')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('environment_id', '=', environmentId);
  if (agent !== undefined) query = query.where('agent', '=', agent);
  return query.orderBy('name').orderBy('agent').execute();
}

/** The first agent (by name) holding `name` in the scope, if any. */
async function findHolder(
  db: Kysely<Database>,
  projectId: string,
  environmentId: string,
  name: string,
): Promise<string | undefined> {
  const row = await withAgentTables(db)
    .selectFrom('host_held_secrets')
    .select('agent')
    .where('project_id', '=', projectId)
    .where('environment_id', '=', environmentId)
    .where('name', '=', name)
    .orderBy('agent')
    .limit(1)
    .executeTakeFirst();
  return row?.agent;
}

/** Which of `names` have a live (not deleted) server-held value in this very project and environment. */
async function liveServerNames(
  db: Kysely<Database>,
  projectId: string,
  environmentId: string,
  names: readonly string[],
): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db
    .selectFrom('secrets')
    .innerJoin('secret_versions', (join) =>
      join
        .onRef('secret_versions.secret_id', '=', 'secrets.id')
        .onRef('secret_versions.version', '=', 'secrets.current_version'),
    )
    .select('secrets.key')
    .where('secrets.project_id', '=', projectId)
    .where('secrets.environment_id', '=', environmentId)
    .where('secrets.key', 'in', names)
    .where('secret_versions.ciphertext', 'is not', null)
    .orderBy('secrets.key')
    .execute();
  return rows.map((row) => row.key);
}

/** Which of `ids` are ids of server-held secrets (anywhere). */
async function serverSecretIds(db: Kysely<Database>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('secrets').select('id').where('id', 'in', ids).execute();
  return rows.map((row) => row.id);
}

/** Which of `ids` are already titles in another project or environment. */
async function idsHeldElsewhere(
  db: Kysely<Database>,
  ids: readonly string[],
  owner: { projectId: string; environmentId: string },
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await withAgentTables(db)
    .selectFrom('host_held_secrets')
    .select('id')
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('project_id', '!=', owner.projectId), eb('environment_id', '!=', owner.environmentId)]))
    .execute();
  return rows.map((row) => row.id);
}

/**
 * Replaces one agent's whole set in one scope (in the caller's transaction). A title whose id
 * another agent of the same scope listed moves to this one: the same file synced under a new
 * name (a renamed host). Any read_write token of the scope may sync as any agent, so this grants
 * nothing a token did not have.
 */
async function replaceSet(
  trx: Kysely<Database>,
  owner: { agent: string; projectId: string; environmentId: string },
  rows: readonly HostHeldSecretTable[],
): Promise<void> {
  const db = withAgentTables(trx);
  await db
    .deleteFrom('host_held_secrets')
    .where('agent', '=', owner.agent)
    .where('project_id', '=', owner.projectId)
    .where('environment_id', '=', owner.environmentId)
    .execute();
  if (rows.length > 0) {
    await db
      .deleteFrom('host_held_secrets')
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .where('project_id', '=', owner.projectId)
      .where('environment_id', '=', owner.environmentId)
      .execute();
  }
  // 500 rows of 7 columns stay well under SQLite's 32,766 bound parameters.
  if (rows.length > 0)
    await db
      .insertInto('host_held_secrets')
      .values([...rows])
      .execute();
}

/** Whether the signature was seen within the window (after forgetting those older than `since`). */
async function signatureSeen(trx: Kysely<Database>, signature: string, since: string): Promise<boolean> {
  const db = withAgentTables(trx);
  await db.deleteFrom('agent_sync_signatures').where('seen_at', '<', since).execute();
  const row = await db
    .selectFrom('agent_sync_signatures')
    .select('signature')
    .where('signature', '=', signature)
    .executeTakeFirst();
  return row !== undefined;
}

async function rememberSignature(trx: Kysely<Database>, signature: string, at: string): Promise<void> {
  await withAgentTables(trx).insertInto('agent_sync_signatures').values({ signature, seen_at: at }).execute();
}

export const hostHeldRepository = Object.freeze({
  listInScope,
  findHolder,
  liveServerNames,
  serverSecretIds,
  idsHeldElsewhere,
  replaceSet,
  signatureSeen,
  rememberSignature,
});
