import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { reusableQuery } from '../db/reusable-query.js';
import type { RootKeyRow, RootKeyTable, ValueKeys } from './root-key.table.js';

const rootKeyQuery = reusableQuery((db, rootId: string) =>
  db.selectFrom('root_keys').selectAll().where('project_id', '=', rootId),
);

/** On the API's per-request path whenever the database has changed (key.service caches it otherwise), hence compiled once. */
async function findRootKey(db: Kysely<Database>, rootId: string): Promise<RootKeyRow | undefined> {
  return (await rootKeyQuery(db, rootId))[0];
}

async function insertRootKey(db: Kysely<Database>, row: RootKeyTable): Promise<void> {
  await db.insertInto('root_keys').values(row).execute();
}

/**
 * Marks a change in the tree (caches of decrypted data compare this revision). With `current`, it
 * also proves the key used for the change is still how the tree is keyed: it returns false when a
 * rotation or a conversion to environment keys (perhaps by another process) happened meanwhile,
 * and the caller must roll back.
 */
async function bumpRevision(
  db: Kysely<Database>,
  rootId: string,
  current?: { keyVersion: number; valueKeys: ValueKeys },
): Promise<boolean> {
  let query = db
    .updateTable('root_keys')
    .set((eb) => ({ revision: eb('revision', '+', 1) }))
    .where('project_id', '=', rootId);
  if (current !== undefined) {
    query = query.where('key_version', '=', current.keyVersion).where('value_keys', '=', current.valueKeys);
  }
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** The tree's values are now under environment keys (in the caller's transaction); false when rotated meanwhile. */
async function useEnvironmentKeys(db: Kysely<Database>, rootId: string, keyVersion: number): Promise<boolean> {
  const result = await db
    .updateTable('root_keys')
    .set((eb) => ({ value_keys: 'environment', revision: eb('revision', '+', 1) }))
    .where('project_id', '=', rootId)
    .where('key_version', '=', keyVersion)
    .where('value_keys', '=', 'root')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

async function replaceWrappedKey(
  db: Kysely<Database>,
  rootId: string,
  expectedKeyVersion: number,
  next: Pick<RootKeyTable, 'kdf' | 'salt' | 'wrapped_dek' | 'key_version' | 'rotated_at'> &
    Partial<Pick<RootKeyTable, 'value_keys'>>,
): Promise<boolean> {
  const result = await db
    .updateTable('root_keys')
    .set((eb) => ({ ...next, revision: eb('revision', '+', 1) }))
    .where('project_id', '=', rootId)
    .where('key_version', '=', expectedKeyVersion)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export const rootKeyRepository = Object.freeze({
  findRootKey,
  insertRootKey,
  bumpRevision,
  useEnvironmentKeys,
  replaceWrappedKey,
});
