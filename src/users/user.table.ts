import type { Selectable } from 'kysely';

export interface UserTable {
  id: string;
  username: string;
  password_hash: string;
  created_at: string;
}

export type UserRow = Selectable<UserTable>;
