import { parseDuration } from './token-duration.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService, TokenRejection } from '../audit/audit.service.js';
import { sha256 } from '../crypto/hash.js';
import { type Changes, changeGuardedRows } from '../db/changes.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { InvalidRequest, InvalidToken, NotFound } from '../errors.js';
import type { ProjectService } from '../projects/project.service.js';
import { tokenRepository } from './token.repository.js';
import type { TokenAccess } from './token.table.js';

/** `sfst_<16 hex id>_<43 chars: 256 random bits>`; the id is public and finds the row, the rest is the secret. */
const TOKEN_FORMAT = /^sfst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** last_used_at is a hint, not a log: refreshing it at most once a minute keeps pulls free of writes. */
const TOUCH_INTERVAL_MS = 60_000;

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly project: string;
  readonly environment: string;
  readonly access: TokenAccess;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
}

export interface AuthenticatedToken {
  readonly id: string;
  readonly access: TokenAccess;
  readonly projectId: string;
  readonly project: string;
  readonly rootId: string;
  readonly environmentId: string;
  readonly environment: string;
}

// Hashed on every API request: crypto/hash.ts keeps node:crypto's native SHA-256 for this.
const hashToken = (token: string): Uint8Array => sha256(token);

export function createTokenService(deps: {
  db: Kysely<Database>;
  changes: Changes;
  projects: Pick<ProjectService, 'byName' | 'byId'>;
  environments: Pick<EnvironmentService, 'byName' | 'byId'>;
  audit: Pick<AuditService, 'record' | 'noteRejectedToken'>;
  now: () => Date;
}) {
  const { db, projects, environments, audit, now } = deps;
  // Looked up on every request; any write anywhere (a revocation by the CLI included) empties it.
  const authRows = changeGuardedRows(deps.changes, (id: string) => tokenRepository.findTokenForAuth(db, id));

  async function create(
    input: {
      project: string;
      environment: string;
      access: TokenAccess;
      expiresInSeconds?: number | undefined;
      name?: string | undefined;
    },
    actor: Actor,
  ): Promise<{ token: string; view: TokenView }> {
    const project = await projects.byName(input.project);
    const environment = await environments.byName(input.environment);
    const name = (input.name ?? `${project.name}/${environment.name}`).trim();
    if (name === '' || name.length > 100) throw new InvalidRequest('a token name must be 1 to 100 characters');
    const id = randomBytes(8).toString('hex');
    const token = `sfst_${id}_${randomBytes(32).toString('base64url')}`;
    const at = now();
    const expiresAt =
      input.expiresInSeconds === undefined
        ? null
        : new Date(at.getTime() + input.expiresInSeconds * 1000).toISOString();
    await writeTransaction(db, async (trx) => {
      await tokenRepository.insertToken(trx, {
        id,
        name,
        token_hash: hashToken(token),
        project_id: project.id,
        environment_id: environment.id,
        access: input.access,
        expires_at: expiresAt,
        revoked_at: null,
        last_used_at: null,
        created_at: at.toISOString(),
        created_by: actor.name.slice(0, 200),
      });
      await audit.record(trx, {
        actor,
        action: 'token_created',
        projectId: project.id,
        environment: environment.name,
        details: { token_id: id, access: input.access, expires_at: expiresAt },
      });
    });
    return { token, view: (await tokenRepository.findTokenView(db, id))! };
  }

  async function list(projectName?: string): Promise<TokenView[]> {
    const projectId = projectName === undefined ? undefined : (await projects.byName(projectName)).id;
    return tokenRepository.listTokenViews(db, projectId);
  }

  /** Immediate: the revocation is a write, and any write empties the cache of token rows. Revoking twice is a no-op. */
  async function revoke(id: string, actor: Actor): Promise<TokenView> {
    const view = await tokenRepository.findTokenView(db, id);
    if (!view) throw new NotFound('token', id.slice(0, 40));
    await writeTransaction(db, async (trx) => {
      if (!(await tokenRepository.markRevoked(trx, id, now().toISOString()))) return;
      const row = await tokenRepository.findTokenForAuth(trx, id);
      await audit.record(trx, {
        actor,
        action: 'token_revoked',
        projectId: row!.project_id,
        details: { token_id: id },
      });
    });
    return (await tokenRepository.findTokenView(db, id))!;
  }

  /**
   * Unknown, malformed, revoked and expired tokens all fail the same way. Each refusal is noted
   * for the audit log (counted per source, see token-rejections.ts) with its real reason; `from`
   * says where the request came from. No token at all is no attempt and is not noted.
   */
  async function authenticate(token: string, from: Omit<Actor, 'name'> = {}): Promise<AuthenticatedToken> {
    const refuse = (reason: TokenRejection, tokenId?: string): never => {
      audit.noteRejectedToken({ reason, tokenId, ip: from.ip, userAgent: from.userAgent });
      throw new InvalidToken();
    };
    const match = TOKEN_FORMAT.exec(token);
    if (!match) {
      if (token === '') throw new InvalidToken();
      return refuse('malformed');
    }
    const row = await authRows(match[1]!);
    const at = now();
    if (row === undefined) return refuse('unknown');
    if (!timingSafeEqual(row.token_hash, hashToken(token))) return refuse('wrong_secret', row.id);
    if (row.revoked_at !== null) return refuse('revoked', row.id);
    if (row.expires_at !== null && new Date(row.expires_at) <= at) return refuse('expired', row.id);
    const [project, environment] = await Promise.all([
      projects.byId(row.project_id),
      environments.byId(row.environment_id),
    ]);
    if (row.last_used_at === null || at.getTime() - new Date(row.last_used_at).getTime() > TOUCH_INTERVAL_MS) {
      // A hint, not a record: if another process holds the write lock (a long re-encryption), a
      // read must not fail over it. The next request a minute on tries again.
      await tokenRepository.touchToken(db, row.id, at.toISOString()).catch(() => undefined);
    }
    return {
      id: row.id,
      access: row.access,
      projectId: row.project_id,
      project: project.name,
      rootId: project.root_id,
      environmentId: row.environment_id,
      environment: environment.name,
    };
  }

  return { create, list, revoke, authenticate };
}

export type TokenService = ReturnType<typeof createTokenService>;
