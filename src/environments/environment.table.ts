import type { Selectable } from 'kysely';

export interface EnvironmentTable {
  id: string;
  name: string;
  created_at: string;
}

export type EnvironmentRow = Selectable<EnvironmentTable>;
