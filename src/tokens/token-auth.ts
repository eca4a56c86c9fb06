import { timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService, TokenRejection } from '../audit/audit.service.js';
import { sha256 } from '../crypto/hash.js';
import { KEYED_TOKEN, parseKeyedToken, parseTokenProof, type TokenKeyBinding } from '../crypto/scoped-keys.js';
import { type Changes, changeGuardedRows } from '../db/changes.js';
import type { Database } from '../db/database.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { InvalidToken } from '../errors.js';
import type { Keystore } from '../keys/keystore.js';
import type { ProjectService } from '../projects/project.service.js';
import { tokenRepository } from './token.repository.js';
import type { TokenAccess, TokenKind } from './token.table.js';

/**
 * A classic token: `sfst_<16 hex id>_<43 chars: 256 random bits>`; the id is public and finds the
 * row, the rest is the secret. Keyed tokens and their proofs: crypto/scoped-keys.ts.
 */
const TOKEN_FORMAT = /^sfst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** last_used_at is a hint, not a log: refreshing it at most once a minute keeps pulls free of writes. */
export const TOUCH_INTERVAL_MS = 60_000;

export interface AuthenticatedToken {
  readonly id: string;
  readonly access: TokenAccess;
  readonly kind: TokenKind;
  readonly projectId: string;
  readonly project: string;
  readonly rootId: string;
  readonly environmentId: string;
  readonly environment: string;
  /** What a keyed token's wrapped environment key is bound to (its chain included). */
  readonly binding: TokenKeyBinding;
  /**
   * How the token was presented: `token`, the whole string; `proof`, a keyed token's authentication
   * key alone (on the secrets API it fetches the sealed form only: secret.api.ts, keyAccess).
   */
  readonly presented: 'token' | 'proof';
  /**
   * A keyed token presented whole: the string (for the keystore's token cache, which keeps only an
   * HMAC of it), the row's hash it was verified against, and its wrapping key when this request had
   * to derive it (not when the token was verified here before). The caller wipes the wrapping key.
   */
  readonly keyedToken?: string;
  /** keystore.proof of the keyed token string: what the token cache compares. */
  readonly tokenProof?: Uint8Array;
  readonly tokenHash?: Uint8Array;
  readonly wrappingKey?: Uint8Array;
  /** A keyed token's stored wrapped environment key. */
  readonly wrappedKey: Uint8Array | null;
}

// Hashed on every API request: crypto/hash.ts keeps node:crypto's native SHA-256 for this.
export const hashToken = (token: string): Uint8Array => sha256(token);

/**
 * What a presented token string is, before any database read. A whole keyed token is not derived
 * yet: a token this process verified before needs no derivation (authenticate).
 */
type Presented =
  | { form: 'classic'; id: string; hash: Uint8Array }
  | { form: 'keyed'; id: string }
  | { form: 'proof'; id: string; hash: Uint8Array };

function readPresented(token: string): Presented | undefined {
  const classic = TOKEN_FORMAT.exec(token);
  if (classic) return { form: 'classic', id: classic[1]!, hash: hashToken(token) };
  const keyed = KEYED_TOKEN.exec(token);
  if (keyed) return { form: 'keyed', id: keyed[1]! };
  const proof = parseTokenProof(token);
  if (proof) {
    const hash = sha256(proof.authKey);
    proof.authKey.fill(0);
    return { form: 'proof', id: proof.id, hash };
  }
  return undefined;
}

/** Who a presented token string is: the API's check on every request (token.service.ts composes it). */
export function createTokenAuthentication(deps: {
  db: Kysely<Database>;
  changes: Changes;
  projects: Pick<ProjectService, 'byId' | 'chain'>;
  environments: Pick<EnvironmentService, 'byId'>;
  keystore: Pick<Keystore, 'dropToken' | 'knowsToken' | 'proof'>;
  audit: Pick<AuditService, 'noteRejectedToken'>;
  now: () => Date;
  /** Stamps the token's last use (later, in a batch: token-touch.ts). */
  touch: (id: string, at: string) => void;
}) {
  const { db, projects, environments, keystore, audit, now } = deps;
  // Looked up on every request; any write anywhere (a revocation by the CLI included) empties it.
  const authRows = changeGuardedRows(deps.changes, (id: string) => tokenRepository.findTokenForAuth(db, id));

  /**
   * Unknown, malformed, revoked and expired tokens all fail the same way. Each refusal is noted
   * for the audit log (counted per source, see token-rejections.ts) with its real reason; `from`
   * says where the request came from. No token at all is no attempt and is not noted.
   */
  async function authenticate(token: string, from: Omit<Actor, 'name'> = {}): Promise<AuthenticatedToken> {
    const refuse = (reason: TokenRejection, tokenId?: string): never => {
      audit.noteRejectedToken({ reason, tokenId, ip: from.ip, userAgent: from.userAgent });
      // Revoked or expired by another process (the CLI): what its pulls left here goes now.
      if (tokenId && (reason === 'revoked' || reason === 'expired')) keystore.dropToken(tokenId);
      throw new InvalidToken();
    };
    const presented = readPresented(token);
    if (!presented) {
      if (token === '') throw new InvalidToken();
      return refuse('malformed');
    }
    let wrappingKey: Uint8Array | undefined;
    let tokenProof: Uint8Array | undefined;
    try {
      const row = await authRows(presented.id);
      const at = now();
      if (row === undefined) return refuse('unknown');
      if (row.kind !== (presented.form === 'classic' ? 'classic' : 'keyed')) return refuse('wrong_secret', row.id);
      const project = await projects.byId(row.project_id);
      if (presented.form === 'keyed') {
        // A token this process verified (and whose key it unwrapped) within the cache's lifetime,
        // against the same row, verifies again: the keystore compares an HMAC of the string.
        tokenProof = keystore.proof(token);
        if (!keystore.knowsToken(project.root_id, row.id, tokenProof, row.token_hash)) {
          const keys = parseKeyedToken(token);
          if (!keys) return refuse('malformed');
          wrappingKey = keys.wrappingKey;
          const hash = sha256(keys.authKey);
          keys.authKey.fill(0);
          if (!timingSafeEqual(row.token_hash, hash)) return refuse('wrong_secret', row.id);
        }
      } else if (!timingSafeEqual(row.token_hash, presented.hash)) {
        return refuse('wrong_secret', row.id);
      }
      if (row.revoked_at !== null) return refuse('revoked', row.id);
      if (row.expires_at !== null && new Date(row.expires_at) <= at) return refuse('expired', row.id);
      const environment = await environments.byId(row.environment_id);
      const chain = await projects.chain(project);
      if (row.last_used_at === null || at.getTime() - new Date(row.last_used_at).getTime() > TOUCH_INTERVAL_MS) {
        // A hint, written in a batch after the answer (token-touch.ts).
        deps.touch(row.id, at.toISOString());
      }
      return {
        id: row.id,
        access: row.access,
        kind: row.kind,
        projectId: row.project_id,
        project: project.name,
        rootId: project.root_id,
        environmentId: row.environment_id,
        environment: environment.name,
        binding: {
          tokenId: row.id,
          rootId: project.root_id,
          environmentId: row.environment_id,
          environmentName: environment.name,
          chain: chain.map((p) => ({ id: p.id, name: p.name })),
        },
        presented: presented.form === 'proof' ? 'proof' : 'token',
        ...(tokenProof && { keyedToken: token, tokenProof, tokenHash: row.token_hash }),
        ...(wrappingKey && { wrappingKey }),
        wrappedKey: row.wrapped_key,
      };
    } catch (error) {
      wrappingKey?.fill(0);
      throw error;
    }
  }

  return { authenticate };
}
