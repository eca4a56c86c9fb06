import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/database.js';

/** A secret an agent keeps on its host: its title only. The server never has the value. */
export interface HostHeldSecretTable {
  id: string;
  /** The agent (host) that holds it: `--agent`, AGENT_NAME, else its host name. */
  agent: string;
  project_id: string;
  environment_id: string;
  name: string;
  type: string;
  synced_at: string;
}

/** A sync's signature, kept five minutes so the same request is refused on every instance. */
export interface AgentSyncSignatureTable {
  signature: string;
  seen_at: string;
}

// A type alias, not an interface: withTables wants an index signature, which only aliases infer.
export type AgentTables = {
  host_held_secrets: HostHeldSecretTable;
  agent_sync_signatures: AgentSyncSignatureTable;
};

export type HostHeldSecretRow = Selectable<HostHeldSecretTable>;

/** The application's handle seen with this feature's tables too (src/db/database.ts lists the shared ones). */
export const withAgentTables = (db: Kysely<Database>): Kysely<Database & AgentTables> =>
  db.withTables<AgentTables>() as Kysely<Database & AgentTables>;
