import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { UserRow, UserTable } from './user.table.js';

function findUserByName(db: Kysely<Database>, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

/** Without the password hash, which only sign-in needs. */
function findUserById(db: Kysely<Database>, id: string) {
  return db.selectFrom('users').select(['id', 'username', 'created_at']).where('id', '=', id).executeTakeFirst();
}

async function insertUser(db: Kysely<Database>, row: UserTable): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export const userRepository = Object.freeze({ findUserByName, findUserById, insertUser, countUsers });
