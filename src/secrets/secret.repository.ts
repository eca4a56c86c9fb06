import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/database.js';
import type { SecretRow, SecretVersionRow, SecretVersionTable } from './secret.table.js';

/** The version of a key that a project resolves to: where it is held, and its ciphertext. */
export interface VersionHead {
  readonly projectId: string;
  readonly key: string;
  readonly version: number;
  readonly ciphertext: Uint8Array;
  readonly createdAt: string;
  /** A typed secret's type (null: generic) and a certificate's public metadata (JSON). */
  readonly type: string | null;
  readonly metadata: string | null;
}

function findSecret(
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

function findVersion(db: Kysely<Database>, secretId: string, version: number): Promise<SecretVersionRow | undefined> {
  return db
    .selectFrom('secret_versions')
    .selectAll()
    .where('secret_id', '=', secretId)
    .where('version', '=', version)
    .executeTakeFirst();
}

function listVersions(db: Kysely<Database>, secretId: string) {
  return db
    .selectFrom('secret_versions')
    .select(['version', 'kind', 'created_at', 'created_by', (eb) => eb('ciphertext', 'is', null).as('tombstone')])
    .where('secret_id', '=', secretId)
    .orderBy('version', 'asc')
    .execute();
}

/**
 * Inheritance, in one query: for each key, the newest version held nearest the leaf of `chain`
 * (project ids from the root down), skipping tombstones, which reveal the ancestor's value again.
 * Winners are picked by a window function over metadata, so only their ciphertexts are read and
 * returned (a 10-level chain of 1,000 keys each returns 1,000 rows, not 10,000). Ordered by key.
 */
async function listWinners(
  db: Kysely<Database>,
  chain: readonly string[],
  environmentId: string,
): Promise<VersionHead[]> {
  const levels = sql.join(chain.map((projectId, depth) => sql`(${projectId}, ${depth})`));
  const { rows } = await sql<{
    project_id: string;
    key: string;
    version: number;
    ciphertext: Uint8Array;
    created_at: string;
    type: string | null;
    metadata: string | null;
  }>`
    with chain (project_id, depth) as (values ${levels}),
    ranked as (
      select s.id, s.project_id, s.key, s.current_version,
        row_number() over (partition by s.key order by c.depth desc) as nearest
      from chain c
      join secrets s on s.project_id = c.project_id and s.environment_id = ${environmentId}
      join secret_versions v on v.secret_id = s.id and v.version = s.current_version
      where v.ciphertext is not null
    )
    select r.project_id, r.key, v.version, v.ciphertext, v.created_at, v.type, v.metadata
    from ranked r
    join secret_versions v on v.secret_id = r.id and v.version = r.current_version
    where r.nearest = 1
    order by r.key`.execute(db);
  return rows.map((row) => ({
    projectId: row.project_id,
    key: row.key,
    version: row.version,
    ciphertext: row.ciphertext,
    createdAt: row.created_at,
    type: row.type,
    metadata: row.metadata,
  }));
}

async function insertSecret(db: Kysely<Database>, row: SecretRow): Promise<void> {
  await db.insertInto('secrets').values(row).execute();
}

async function setCurrentVersion(db: Kysely<Database>, secretId: string, version: number): Promise<void> {
  await db.updateTable('secrets').set({ current_version: version }).where('id', '=', secretId).execute();
}

async function insertVersion(db: Kysely<Database>, row: SecretVersionTable): Promise<void> {
  await db.insertInto('secret_versions').values(row).execute();
}

/** Every stored value of a whole tree, with what its ciphertext is bound to (for re-encryption). */
function listTreeCiphertexts(db: Kysely<Database>, rootId: string) {
  return db
    .selectFrom('secret_versions as v')
    .innerJoin('secrets as s', 's.id', 'v.secret_id')
    .innerJoin('projects as p', 'p.id', 's.project_id')
    .select(['v.secret_id', 'v.version', 'v.ciphertext', 's.project_id', 's.environment_id', 's.key'])
    .where('p.root_id', '=', rootId)
    .where('v.ciphertext', 'is not', null)
    .execute();
}

async function replaceCiphertext(
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

/** The current version of every certificate, in every project and environment: metadata only. */
function listCurrentCertificates(db: Kysely<Database>) {
  return db
    .selectFrom('secrets as s')
    .innerJoin('secret_versions as v', (join) =>
      join.onRef('v.secret_id', '=', 's.id').onRef('v.version', '=', 's.current_version'),
    )
    .innerJoin('projects as p', 'p.id', 's.project_id')
    .innerJoin('environments as e', 'e.id', 's.environment_id')
    .select(['p.name as project', 'e.name as environment', 's.key', 'v.version', 'v.metadata'])
    .where('v.type', '=', 'certificate')
    .where('v.ciphertext', 'is not', null)
    .execute();
}

export const secretRepository = Object.freeze({
  listCurrentCertificates,
  findSecret,
  findVersion,
  listVersions,
  listWinners,
  insertSecret,
  setCurrentVersion,
  insertVersion,
  listTreeCiphertexts,
  replaceCiphertext,
});
