import type { Kysely } from 'kysely';
import type { AccessVia } from '../audit/audit.service.js';
import { withAccessTables } from '../audit/secret-access.js';
import type { Database } from '../db/database.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { NotFound } from '../errors.js';
import type { ProjectService } from '../projects/project.service.js';
import { secretRepository } from './secret.repository.js';
import { assertSecretKey } from './secret-key.js';
import { createScopeLookup, type ScopeInput } from './secret-scope.js';

/** How a value was received or revealed, in words (the CLI's table and the UI). */
export const ACCESS_VIA_LABELS: Readonly<Record<AccessVia, string>> = Object.freeze({
  ui_reveal: 'UI reveal',
  cli_get: 'CLI secret get',
  pull: 'API pull',
  keyed_pull: 'API pull (keyed token)',
  sealed_pull: 'sealed pull (zero-knowledge)',
  api_get: 'API get',
});

/** One line of a key's access log: who, how, when, from where. Never a value. */
export interface AccessEntry {
  /** The audit log's actor: token:<id>, user:<name>, cli:<os user>. */
  readonly actor: string;
  readonly kind: 'token' | 'user' | 'cli' | 'other';
  /** The token's id, the user's or OS user's name. */
  readonly id: string;
  /** The token's name (absent for a token since deleted), else the same as `id`. */
  readonly name: string | null;
  readonly revoked: boolean;
  readonly via: string;
  readonly how: string;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly count: number;
  readonly lastIp: string | null;
  readonly lastUserAgent: string | null;
  /** The chained audit events (seq) this record was first and last written from. */
  readonly firstSeq: number;
  readonly lastSeq: number;
}

function splitActor(actor: string): { kind: AccessEntry['kind']; id: string } {
  const at = actor.indexOf(':');
  const prefix = at > 0 ? actor.slice(0, at) : '';
  if (prefix === 'token' || prefix === 'user' || prefix === 'cli') return { kind: prefix, id: actor.slice(at + 1) };
  return { kind: 'other', id: actor };
}

/**
 * Who received or revealed a secret's value (`secretsfly secret access-log`, the UI's access-log
 * page), read from secret_access (written with the audit events: src/audit/secret-access.ts).
 */
export function createAccessLogService(deps: {
  db: Kysely<Database>;
  projects: Pick<ProjectService, 'byName' | 'chain'>;
  environments: Pick<EnvironmentService, 'byName'>;
}) {
  const { db } = deps;
  const scopeOf = createScopeLookup(deps);

  /**
   * The access log of a key of a project (its own value, as `history` shows its versions), most
   * recent first. NotFound when the project never had the key in that environment.
   */
  async function list(input: ScopeInput & { key: string }): Promise<AccessEntry[]> {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
    if (!(await secretRepository.findSecret(db, s.project.id, s.environment.id, input.key))) {
      throw new NotFound('secret', input.key);
    }
    const rows = await withAccessTables(db)
      .selectFrom('secret_access')
      .selectAll()
      .where('project_id', '=', s.project.id)
      .where('environment_id', '=', s.environment.id)
      .where('key', '=', input.key)
      .orderBy('last_at', 'desc')
      .orderBy('actor')
      .orderBy('via')
      .execute();
    const tokenIds = rows.map((row) => splitActor(row.actor)).flatMap((a) => (a.kind === 'token' ? [a.id] : []));
    const tokens = new Map(
      tokenIds.length === 0
        ? []
        : (
            await db
              .selectFrom('service_tokens')
              .select(['id', 'name', 'revoked_at'])
              .where('id', 'in', [...new Set(tokenIds)])
              .execute()
          ).map((t) => [t.id, t]),
    );
    return rows.map((row) => {
      const { kind, id } = splitActor(row.actor);
      const token = kind === 'token' ? tokens.get(id) : undefined;
      return {
        actor: row.actor,
        kind,
        id,
        name: kind === 'token' ? (token?.name ?? null) : id,
        revoked: Boolean(token?.revoked_at),
        via: row.via,
        how: ACCESS_VIA_LABELS[row.via as AccessVia] ?? row.via,
        firstAt: row.first_at,
        lastAt: row.last_at,
        count: Number(row.count),
        lastIp: row.last_ip,
        lastUserAgent: row.last_user_agent,
        firstSeq: row.first_seq,
        lastSeq: row.last_seq,
      };
    });
  }

  return { list };
}

export type AccessLogService = ReturnType<typeof createAccessLogService>;
