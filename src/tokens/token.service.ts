import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { sha256 } from '../crypto/hash.js';
import { newKeyedToken, parseKeyedToken, type TokenKeyBinding, wrapEnvironmentKey } from '../crypto/scoped-keys.js';
import type { Changes } from '../db/changes.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { InvalidRequest, KeyRotatedMeanwhile, NotFound } from '../errors.js';
import type { KeyAccess, KeyService } from '../keys/key.service.js';
import type { Keystore } from '../keys/keystore.js';
import type { ProjectService } from '../projects/project.service.js';
import type { SecretService } from '../secrets/secret.service.js';
import { createTokenAuthentication, hashToken, TOUCH_INTERVAL_MS } from './token-auth.js';
import { createTouchBatch } from './token-touch.js';
import { tokenRepository } from './token.repository.js';
import type { TokenAccess, TokenKind } from './token.table.js';

export type { AuthenticatedToken } from './token-auth.js';

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly project: string;
  readonly environment: string;
  readonly access: TokenAccess;
  readonly kind: TokenKind;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
}

export function createTokenService(deps: {
  db: Kysely<Database>;
  changes: Changes;
  projects: Pick<ProjectService, 'byName' | 'byId' | 'chain'>;
  environments: Pick<EnvironmentService, 'byName' | 'byId'>;
  keys: Pick<KeyService, 'withDataKey' | 'bumpRevision'>;
  secrets: Pick<SecretService, 'useEnvironmentKeys'>;
  keystore: Pick<Keystore, 'dropToken' | 'knowsToken' | 'proof'>;
  audit: Pick<AuditService, 'record' | 'noteRejectedToken'>;
  now: () => Date;
  /** Removes what a revocation deleted (a wrapped key) from the database's files: see rotation.service.ts. */
  scrub: () => boolean;
}) {
  const { db, projects, environments, keys, secrets, keystore, audit, now, scrub } = deps;
  const touches = createTouchBatch(db, TOUCH_INTERVAL_MS);
  const { authenticate } = createTokenAuthentication({ ...deps, touch: touches.touch });

  /**
   * A new token, shown once. With `keyed` (the master key, or the session that unseals the root) it
   * is a keyed token: its root is converted to environment keys first if it is not yet (one
   * transaction), and the environment key is stored wrapped under the token's wrapping key.
   */
  async function create(
    input: {
      project: string;
      environment: string;
      access: TokenAccess;
      expiresInSeconds?: number | undefined;
      name?: string | undefined;
      keyed?: KeyAccess | undefined;
    },
    actor: Actor,
  ): Promise<{ token: string; view: TokenView }> {
    const project = await projects.byName(input.project);
    const environment = await environments.byName(input.environment);
    const name = (input.name ?? `${project.name}/${environment.name}`).trim();
    if (name === '' || name.length > 100) throw new InvalidRequest('a token name must be 1 to 100 characters');
    const id = randomBytes(8).toString('hex');
    const at = now();
    const expiresAt =
      input.expiresInSeconds === undefined
        ? null
        : new Date(at.getTime() + input.expiresInSeconds * 1000).toISOString();
    const row = {
      id,
      name,
      project_id: project.id,
      environment_id: environment.id,
      access: input.access,
      expires_at: expiresAt,
      revoked_at: null,
      last_used_at: null,
      created_at: at.toISOString(),
      created_by: actor.name.slice(0, 200),
    };
    const created = {
      actor,
      action: 'token_created',
      projectId: project.id,
      environment: environment.name,
      details: { token_id: id, access: input.access, kind: input.keyed ? 'keyed' : 'classic', expires_at: expiresAt },
    } as const;

    let token: string;
    if (input.keyed) {
      const chain = await projects.chain(project);
      const root = chain[0]!;
      await secrets.useEnvironmentKeys(root, input.keyed, actor);
      token = newKeyedToken(id);
      const { authKey, wrappingKey } = parseKeyedToken(token)!;
      const binding: TokenKeyBinding = {
        tokenId: id,
        rootId: root.id,
        environmentId: environment.id,
        environmentName: environment.name,
        chain: chain.map((p) => ({ id: p.id, name: p.name })),
      };
      try {
        await keys.withDataKey(root, input.keyed, async (dataKey) => {
          const wrapped = wrapEnvironmentKey(wrappingKey, dataKey.valueKey(environment.id), binding);
          await writeTransaction(db, async (trx) => {
            await tokenRepository.insertToken(trx, {
              ...row,
              token_hash: sha256(authKey),
              kind: 'keyed',
              wrapped_key: wrapped,
            });
            await audit.record(trx, created);
            // The environment key wrapped above must still be the tree's: a re-encryption elsewhere
            // in between would leave this token with a key that opens nothing.
            if (!(await keys.bumpRevision(trx, root.id, dataKey))) throw new KeyRotatedMeanwhile();
          });
        });
      } finally {
        authKey.fill(0);
        wrappingKey.fill(0);
      }
    } else {
      token = `sfst_${id}_${randomBytes(32).toString('base64url')}`;
      await writeTransaction(db, async (trx) => {
        await tokenRepository.insertToken(trx, {
          ...row,
          token_hash: hashToken(token),
          kind: 'classic',
          wrapped_key: null,
        });
        await audit.record(trx, created);
      });
    }
    return { token, view: (await tokenRepository.findTokenView(db, id))! };
  }

  async function list(projectName?: string): Promise<TokenView[]> {
    const projectId = projectName === undefined ? undefined : (await projects.byName(projectName)).id;
    return tokenRepository.listTokenViews(db, projectId);
  }

  /**
   * Immediate: the revocation is a write, and any write empties the cache of token rows. A keyed
   * token's wrapped key is deleted with it, and wiped from this process's memory and from the
   * database's files (scrub), so a copy taken afterwards plus the token decrypts nothing. Revoking
   * twice is a no-op.
   */
  async function revoke(id: string, actor: Actor): Promise<TokenView & { scrubbed: boolean }> {
    const view = await tokenRepository.findTokenView(db, id);
    if (!view) throw new NotFound('token', id.slice(0, 40));
    const revoked = await writeTransaction(db, async (trx) => {
      if (!(await tokenRepository.markRevoked(trx, id, now().toISOString()))) return false;
      const row = await tokenRepository.findTokenForAuth(trx, id);
      await audit.record(trx, {
        actor,
        action: 'token_revoked',
        projectId: row!.project_id,
        details: { token_id: id },
      });
      return true;
    });
    keystore.dropToken(id);
    // false: another process kept the database busy, and the deleted wrapped key may still be in the WAL.
    const scrubbed = revoked && view.kind === 'keyed' ? scrub() : true;
    return { ...(await tokenRepository.findTokenView(db, id))!, scrubbed };
  }

  /**
   * Revokes every keyed token of a tree whose data key is being replaced (rotate --reencrypt), in
   * the caller's transaction: their wrapped keys open nothing any more, and nobody can rewrap them
   * (the server never holds a wrapping key). Returns the ids revoked.
   */
  async function withdrawKeyedTokens(trx: Kysely<Database>, rootId: string, actor: Actor): Promise<string[]> {
    const withdrawn = await tokenRepository.withdrawKeyedTokens(trx, rootId, now().toISOString());
    for (const row of withdrawn) {
      await audit.record(trx, {
        actor,
        action: 'token_revoked',
        projectId: row.project_id,
        details: { token_id: row.id, reason: 'reencrypted' },
      });
    }
    for (const row of withdrawn) keystore.dropToken(row.id);
    return withdrawn.map((row) => row.id);
  }

  /** Compiles the authentication query before the first request needs it (http/warm-up.ts). */
  async function warmUp(): Promise<void> {
    await tokenRepository.findTokenForAuth(db, '0000000000000000');
  }

  return { create, list, revoke, withdrawKeyedTokens, authenticate, warmUp, flushTouches: touches.flush };
}

export type TokenService = ReturnType<typeof createTokenService>;
