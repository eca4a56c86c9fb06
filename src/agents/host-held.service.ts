import { timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { AppError, Forbidden, InvalidRequest } from '../errors.js';
import type { KeyService } from '../keys/key.service.js';
import type { ProjectService } from '../projects/project.service.js';
import type { ApiClient } from '../secrets/secret-scope.js';
import { hostHeldRepository } from './host-held.repository.js';
import {
  assertAgentName,
  type HostHeldTitle,
  parseSyncBody,
  signSync,
  SYNC_WINDOW_SECONDS,
  syncSigningKey,
} from './host-held-fns.js';

/**
 * A write, update or delete of a name that an agent holds on its host: the server has no value to
 * change, and a server-held value of that name would make two sources for one variable. 409, naming
 * the host. (`already_exists`: a secret by that name exists, on the host.)
 */
export class HeldOnHost extends AppError {
  constructor(
    readonly key: string,
    readonly agent: string,
  ) {
    super(
      'already_exists',
      `${key} is held on host ${agent}: the server never has its value, so it cannot be written or deleted here; change it on that host with 'secretsfly agent secrets add' or 'remove'`,
    );
  }
}

/** A sync whose timestamp or signature does not check out, or that was already applied. */
export class SyncSignatureRefused extends AppError {
  constructor(why: string) {
    super('invalid_signature', `agent sync refused: ${why}`);
  }
}

/** A sync naming a server-held secret (by name in its scope, or by id). */
export class CollidesWithServer extends AppError {
  constructor(what: string) {
    super('already_exists', `agent sync refused: ${what}; nothing was applied`);
  }
}

/**
 * The hook of every server-side write (secret-write.service.ts): refuses a write or delete of a
 * name an agent holds in that project and environment. Call it inside the write's transaction.
 */
export async function refuseHostHeld(
  trx: Kysely<Database>,
  projectId: string,
  environmentId: string,
  key: string,
): Promise<void> {
  const agent = await hostHeldRepository.findHolder(trx, projectId, environmentId, key);
  if (agent !== undefined) throw new HeldOnHost(key, agent);
}

/** A title as the API, the UI and the CLI show it. */
export interface HostHeldView {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly agent: string;
  readonly syncedAt: string;
}

/** What a signed sync request carries besides the token's own check (done by authenticateApi). */
export interface SyncRequest {
  readonly agent: string;
  /** The credential of the Authorization header: the HMAC key is derived from it. */
  readonly credential: string;
  readonly method: string;
  readonly path: string;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly body: Uint8Array;
}

export function createHostHeldService(deps: {
  db: Kysely<Database>;
  projects: Pick<ProjectService, 'byName'>;
  environments: Pick<EnvironmentService, 'byName'>;
  keys: Pick<KeyService, 'bumpRevision'>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
}) {
  const { db, projects, environments, keys, audit, now } = deps;

  const view = (row: { id: string; name: string; type: string; agent: string; synced_at: string }): HostHeldView => ({
    id: row.id,
    name: row.name,
    type: row.type,
    agent: row.agent,
    syncedAt: row.synced_at,
  });

  /** The titles held on hosts in a project and environment, by name (for the UI and `secret list`). */
  async function list(scope: { project: string; environment: string }, agent?: string): Promise<HostHeldView[]> {
    const project = await projects.byName(scope.project);
    const environment = await environments.byName(scope.environment);
    return (await hostHeldRepository.listInScope(db, project.id, environment.id, agent)).map(view);
  }

  /** The titles held on hosts in the token's own scope. */
  async function listForApi(client: ApiClient & { token: { environmentId: string } }, agent?: string) {
    const rows = await hostHeldRepository.listInScope(db, client.token.projectId, client.token.environmentId, agent);
    return rows.map(view);
  }

  /** The signature, checked before the body is even parsed: a stale or forged request costs no JSON parse. */
  function checkSignature(request: SyncRequest): string {
    const seconds = Number(request.timestamp);
    if (!request.timestamp || !/^\d{1,12}$/.test(request.timestamp) || !Number.isSafeInteger(seconds)) {
      throw new SyncSignatureRefused('no timestamp (X-Secretsfly-Timestamp, seconds since 1970)');
    }
    if (Math.abs(now().getTime() / 1000 - seconds) > SYNC_WINDOW_SECONDS) {
      throw new SyncSignatureRefused(
        `its timestamp is more than ${SYNC_WINDOW_SECONDS / 60} minutes from the server's clock`,
      );
    }
    const sent = /^v1=([0-9a-f]{64})$/.exec(request.signature ?? '')?.[1];
    if (!sent) throw new SyncSignatureRefused('no signature (X-Secretsfly-Signature: v1=<hex>)');
    const key = syncSigningKey(request.credential);
    const expected = signSync(key, { ...request, timestamp: request.timestamp });
    key.fill(0);
    if (!timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(sent, 'hex'))) {
      throw new SyncSignatureRefused('wrong signature');
    }
    return sent;
  }

  /**
   * Replaces the agent's whole set in the token's project and environment, all or nothing: a bad
   * item, an item of another scope, a name or id of a server-held secret, or a replay refuses it all.
   */
  async function sync(
    client: ApiClient & { token: { environmentId: string; rootId: string; access: string } },
    request: SyncRequest,
  ): Promise<{ agent: string; project: string; environment: string; count: number }> {
    const { token } = client;
    // Titles block the server's writes of their names: a write, so read tokens may not.
    if (token.access !== 'read_write') throw new Forbidden('this token is read-only: a sync needs a read_write token');
    assertAgentName(request.agent);
    const signature = checkSignature(request);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(request.body));
    } catch {
      throw new InvalidRequest('the body is not JSON text');
    }
    const titles = parseSyncBody(body);
    const foreign = titles.find((t) => t.project !== token.project || t.environment !== token.environment);
    if (foreign) {
      throw new Forbidden(
        `this token is for ${token.project}/${token.environment}: it cannot sync ${foreign.name} of ${foreign.project}/${foreign.environment}`,
      );
    }
    const at = now();
    const owner = { agent: request.agent, projectId: token.projectId, environmentId: token.environmentId };
    return writeTransaction(db, async (trx) => {
      const since = new Date(at.getTime() - SYNC_WINDOW_SECONDS * 1000).toISOString();
      if (await hostHeldRepository.signatureSeen(trx, signature, since)) {
        throw new SyncSignatureRefused('this exact request was already applied (a replay)');
      }
      await refuseCollisions(trx, titles, owner);
      await hostHeldRepository.replaceSet(
        trx,
        owner,
        titles.map((t) => ({
          id: t.id,
          agent: request.agent,
          project_id: token.projectId,
          environment_id: token.environmentId,
          name: t.name,
          type: t.type,
          synced_at: at.toISOString(),
        })),
      );
      await hostHeldRepository.rememberSignature(trx, signature, at.toISOString());
      // A watching `run` on the host then re-reads its values (host-held ones included).
      await keys.bumpRevision(trx, token.rootId);
      await audit.record(trx, {
        actor: client.actor,
        action: 'api_write',
        projectId: token.projectId,
        environment: token.environment,
        details: { token_id: token.id, host_held_sync: request.agent, titles: titles.length },
      });
      return { agent: request.agent, project: token.project, environment: token.environment, count: titles.length };
    });
  }

  async function refuseCollisions(
    trx: Kysely<Database>,
    titles: readonly HostHeldTitle[],
    owner: { agent: string; projectId: string; environmentId: string },
  ): Promise<void> {
    const names = await hostHeldRepository.liveServerNames(
      trx,
      owner.projectId,
      owner.environmentId,
      titles.map((t) => t.name),
    );
    if (names.length > 0) {
      throw new CollidesWithServer(
        `${names.slice(0, 10).join(', ')} ${names.length === 1 ? 'is a' : 'are'} server-held secret${names.length === 1 ? '' : 's'} of this project and environment (delete ${names.length === 1 ? 'it' : 'them'} on the server first, or use another name)`,
      );
    }
    const ids = titles.map((t) => t.id);
    const taken = [
      ...(await hostHeldRepository.serverSecretIds(trx, ids)),
      ...(await hostHeldRepository.idsHeldElsewhere(trx, ids, owner)),
    ];
    if (taken.length > 0) throw new CollidesWithServer(`id ${taken[0]} is already another secret's`);
  }

  return { list, listForApi, sync };
}

export type HostHeldService = ReturnType<typeof createHostHeldService>;
