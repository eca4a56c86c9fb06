import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { SecretRow, SecretVersionRow, SecretVersionTable } from './secret.table.js';

/** The newest version of every key of these projects in one environment (live values and tombstones). */
export interface VersionHead {
  readonly projectId: string;
  readonly key: string;
  readonly version: number;
  readonly ciphertext: Uint8Array | null;
  readonly createdAt: string;
}

export function findSecret(
  db: Kysely<Database>,
  projectId: string,
  environmentId: string,
  key: string,
): Promise<SecretRow | undefined> {
  return db
    .selectFrom('secrets')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('environment_id', '=', environmentId)
    .where('key', '=', key)
    .executeTakeFirst();
}

export function findVersion(db: Kysely<Database>, secretId: string, version: number): Promise<SecretVersionRow | undefined> {
  return db
    .selectFrom('secret_versions')
    .selectAll()
    .where('secret_id', '=', secretId)
    .where('version', '=', version)
    .executeTakeFirst();
}

export function listVersions(db: Kysely<Database>, secretId: string) {
  return db
    .selectFrom('secret_versions')
    .select(['version', 'kind', 'created_at', 'created_by', (eb) => eb('ciphertext', 'is', null).as('tombstone')])
    .where('secret_id', '=', secretId)
    .orderBy('version', 'asc')
    .execute();
}

export async function listHeads(
  db: Kysely<Database>,
  projectIds: readonly string[],
  environmentId: string,
): Promise<VersionHead[]> {
  const rows = await db
    .selectFrom('secrets as s')
    .innerJoin('secret_versions as v', (join) =>
      join.onRef('v.secret_id', '=', 's.id').onRef('v.version', '=', 's.current_version'),
    )
    .select(['s.project_id', 's.key', 'v.version', 'v.ciphertext', 'v.created_at'])
    .where('s.project_id', 'in', projectIds)
    .where('s.environment_id', '=', environmentId)
    .execute();
  return rows.map((row) => ({
    projectId: row.project_id,
    key: row.key,
    version: row.version,
    ciphertext: row.ciphertext,
    createdAt: row.created_at,
  }));
}

export async function insertSecret(db: Kysely<Database>, row: SecretRow): Promise<void> {
  await db.insertInto('secrets').values(row).execute();
}

export async function setCurrentVersion(db: Kysely<Database>, secretId: string, version: number): Promise<void> {
  await db.updateTable('secrets').set({ current_version: version }).where('id', '=', secretId).execute();
}

export async function insertVersion(db: Kysely<Database>, row: SecretVersionTable): Promise<void> {
  await db.insertInto('secret_versions').values(row).execute();
}

/** Every stored value of a whole tree, with what its ciphertext is bound to (for re-encryption). */
export function listTreeCiphertexts(db: Kysely<Database>, rootId: string) {
  return db
    .selectFrom('secret_versions as v')
    .innerJoin('secrets as s', 's.id', 'v.secret_id')
    .innerJoin('projects as p', 'p.id', 's.project_id')
    .select(['v.secret_id', 'v.version', 'v.ciphertext', 's.project_id', 's.environment_id', 's.key'])
    .where('p.root_id', '=', rootId)
    .where('v.ciphertext', 'is not', null)
    .execute();
}

export async function replaceCiphertext(
  db: Kysely<Database>,
  secretId: string,
  version: number,
  ciphertext: Uint8Array,
): Promise<void> {
  await db
    .updateTable('secret_versions')
    .set({ ciphertext })
    .where('secret_id', '=', secretId)
    .where('version', '=', version)
    .execute();
}
