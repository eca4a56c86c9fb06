import type { Selectable } from 'kysely';

export interface ProjectTable {
  id: string;
  name: string;
  parent_id: string | null;
  /** The root of this project's tree; equal to `id` for a root project. */
  root_id: string;
  created_at: string;
}

export type ProjectRow = Selectable<ProjectTable>;
