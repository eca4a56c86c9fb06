import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { sha256Hex } from '../crypto/hash.js';
import type { Database } from '../db/database.js';
import type { AuditEventTable } from './audit.table.js';
import type { AccessVia, AuditEvent, ReceivedKeys } from './audit-types.js';

/**
 * The access log's write side: each chained event that handed out values (an API read, a UI
 * reveal, a CLI `secret get`) is expanded here to one row per key, in the transaction that writes
 * the event. Queued reads arrive already coalesced (audit-queue.ts), so a token pulling the same
 * scope a thousand times a second costs one upsert per key per flush, not per request.
 */

export type SecretAccessTable = {
  project_id: string;
  environment_id: string;
  key: string;
  actor: string;
  via: string;
  first_at: string;
  last_at: string;
  count: number;
  last_ip: string | null;
  last_user_agent: string | null;
  /** The chained events that first and last recorded this access (audit_events.seq). */
  first_seq: number;
  last_seq: number;
};

export type AccessKeysetTable = {
  sha256: string;
  /** JSON of the [project id, key] pairs, exactly what `sha256` was taken over. */
  keys: string;
};

// A type, not an interface: withTables needs an index signature.
export type AccessTables = {
  secret_access: SecretAccessTable;
  secret_access_keysets: AccessKeysetTable;
};

/** The database with the access log's tables (kept out of the shared Database interface). */
export const withAccessTables = (db: Kysely<Database>) => db.withTables<AccessTables>();

/** The stored form of a key list: the hashed text and the text kept in secret_access_keysets. */
const keyListText = (keys: ReceivedKeys['keys']): string => JSON.stringify(keys);

/** The keys a read handed out: [source project id, key] pairs, sorted, hashed once. Names only. */
export function receivedKeys(environmentId: string, pairs: Iterable<readonly [string, string]>): ReceivedKeys {
  const keys = [...pairs].sort(([p1, k1], [p2, k2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : p1 < p2 ? -1 : p1 > p2 ? 1 : 0));
  return Object.freeze({ environmentId, keys, sha256: sha256Hex(keyListText(keys)) });
}

/**
 * What an event that handed out `keys` carries: the details the chain covers (how many keys, the
 * hash of their list, how) and the list itself for the access log. Put both on the same event, so
 * that identical reads coalesce only when their key lists are identical.
 */
export function receivedBy(keys: ReceivedKeys, via: AccessVia) {
  return {
    details: { keys: keys.keys.length, keys_sha256: keys.sha256, via },
    received: { keys, via },
  } as const;
}

type Access = SecretAccessTable;

const later = (a: string, b: string) => (a >= b ? a : b);

/** Folds two records of the same (secret, actor, via) into one. */
function merge(into: Access, next: Access): void {
  if (next.first_at < into.first_at) into.first_at = next.first_at;
  if (next.last_at >= into.last_at) {
    into.last_ip = next.last_ip;
    into.last_user_agent = next.last_user_agent;
  }
  into.last_at = later(into.last_at, next.last_at);
  into.count += next.count;
  into.first_seq = Math.min(into.first_seq, next.first_seq);
  into.last_seq = Math.max(into.last_seq, next.last_seq);
}

/** Rows per statement: 12 columns each, 2,400 parameters, far under both engines' limits. */
const PAGE = 200;

/**
 * Records the access of every event of `rows` that carries `received` (`events[i]` was written as
 * `rows[i]`). Runs inside the transaction that wrote the events.
 */
export async function recordAccess(
  trx: Kysely<Database>,
  rows: readonly AuditEventTable[],
  events: readonly AuditEvent[],
): Promise<void> {
  const accesses = new Map<string, Access>();
  const keysets = new Map<string, string>();
  events.forEach((event, i) => {
    const row = rows[i]!;
    if (!event.received) return;
    const { keys, via } = event.received;
    const lastAt = typeof event.details?.last_at === 'string' ? event.details.last_at : row.at;
    const count = typeof event.details?.count === 'number' ? event.details.count : 1;
    keysets.set(keys.sha256, keyListText(keys.keys));
    for (const [projectId, key] of keys.keys) {
      const access: Access = {
        project_id: projectId,
        environment_id: keys.environmentId,
        key,
        actor: row.actor,
        via,
        first_at: row.at,
        last_at: lastAt,
        count,
        last_ip: row.ip,
        last_user_agent: row.user_agent,
        first_seq: row.seq,
        last_seq: row.seq,
      };
      const id = JSON.stringify([projectId, keys.environmentId, key, row.actor, via]);
      const seen = accesses.get(id);
      if (seen) merge(seen, access);
      else accesses.set(id, access);
    }
  });
  if (keysets.size === 0) return;
  const db = withAccessTables(trx);
  // Even an empty list (a reveal of a scope without keys): every keys_sha256 in the chain resolves.
  await db
    .insertInto('secret_access_keysets')
    .values([...keysets].map(([sha256, keys]) => ({ sha256, keys })))
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
  const all = [...accesses.values()];
  for (let i = 0; i < all.length; i += PAGE) {
    await db
      .insertInto('secret_access')
      .values(all.slice(i, i + PAGE))
      .onConflict((oc) =>
        oc.columns(['project_id', 'environment_id', 'key', 'actor', 'via']).doUpdateSet({
          // Portable (SQLite and PostgreSQL) min and max of ISO 8601 strings and of positions.
          first_at: sql`case when excluded.first_at < secret_access.first_at then excluded.first_at else secret_access.first_at end`,
          first_seq: sql`case when excluded.first_seq < secret_access.first_seq then excluded.first_seq else secret_access.first_seq end`,
          last_ip: sql`case when excluded.last_at >= secret_access.last_at then excluded.last_ip else secret_access.last_ip end`,
          last_user_agent: sql`case when excluded.last_at >= secret_access.last_at then excluded.last_user_agent else secret_access.last_user_agent end`,
          last_at: sql`case when excluded.last_at >= secret_access.last_at then excluded.last_at else secret_access.last_at end`,
          last_seq: sql`case when excluded.last_seq > secret_access.last_seq then excluded.last_seq else secret_access.last_seq end`,
          count: sql`secret_access.count + excluded.count`,
        }),
      )
      .execute();
  }
}
