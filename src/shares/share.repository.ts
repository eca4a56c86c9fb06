import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { ShareRow, ShareTable } from './share.table.js';

async function insertShare(db: Kysely<Database>, row: ShareTable): Promise<void> {
  await db.insertInto('shares').values(row).execute();
}

function findShare(db: Kysely<Database>, id: string): Promise<ShareRow | undefined> {
  return db.selectFrom('shares').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Marks a pending, unexpired share viewed and nulls its ciphertext, in one statement: of two
 * concurrent reveals exactly one matches. True when this call did it.
 */
async function markViewed(db: Kysely<Database>, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('shares')
    .set({ ciphertext: null, state: 'viewed', ended_at: at })
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .where('expires_at', '>', at)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Burns a pending share (its ciphertext goes). True when this call did it. */
async function markBurned(db: Kysely<Database>, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('shares')
    .set({ ciphertext: null, state: 'burned', ended_at: at })
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Expires every pending share due at `at`, nulling the ciphertexts; returns their ids. */
async function expireDue(db: Kysely<Database>, at: string): Promise<string[]> {
  const due = await db
    .selectFrom('shares')
    .select('id')
    .where('state', '=', 'pending')
    .where('expires_at', '<=', at)
    .execute();
  if (due.length === 0) return [];
  await db
    .updateTable('shares')
    .set({ ciphertext: null, state: 'expired', ended_at: at })
    .where('state', '=', 'pending')
    .where('expires_at', '<=', at)
    .execute();
  return due.map((row) => row.id);
}

export const shareRepository = Object.freeze({ insertShare, findShare, markViewed, markBurned, expireDue });
