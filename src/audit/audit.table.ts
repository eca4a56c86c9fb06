import type { Selectable } from 'kysely';

export interface AuditEventTable {
  /** Position in the chain, 1, 2, 3 …: a gap shows a deleted row. */
  seq: number;
  at: string;
  actor: string;
  action: string;
  project_id: string | null;
  environment: string | null;
  key: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string | null;
  prev_hash: string;
  hash: string;
}

export type AuditEventRow = Selectable<AuditEventTable>;
