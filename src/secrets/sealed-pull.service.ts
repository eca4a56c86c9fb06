import type { Kysely } from 'kysely';
import type { Actor, AuditService, ReceivedKeys } from '../audit/audit.service.js';
import { receivedKeys } from '../audit/secret-access.js';
import type { Database } from '../db/database.js';
import { InvalidRequest, InvalidToken } from '../errors.js';
import type { KeyAccess, KeyService } from '../keys/key.service.js';
import type { AuthenticatedToken } from '../tokens/token.service.js';
import { sealedBody, sealedSecretsJson } from './sealed-pull.js';
import { secretRepository } from './secret.repository.js';
import { auditApiRead, rootOf, type ScopeLookup } from './secret-scope.js';

/**
 * The zero-knowledge pull's server side (the answer's format and the client's checks:
 * sealed-pull.ts). It uses no key and holds none.
 */
export function createSealedPullService(deps: {
  db: Kysely<Database>;
  scopeOf: ScopeLookup;
  keys: Pick<KeyService, 'withDataKey' | 'requireRootKey'>;
  audit: Pick<AuditService, 'enqueue'>;
}) {
  const { db, scopeOf, keys, audit } = deps;

  /**
   * Ciphertexts of each scope's winners, as the `secrets` JSON of a sealed answer, valid at the
   * root's revision. Not key material (the keystore holds that): what a copy of the database holds.
   */
  const sealedSecrets = new Map<
    string,
    {
      revision: number;
      json: string;
      keys: number;
      /** The keys handed out (names, never ciphertexts), for the access log. */
      received: ReceivedKeys;
      bodies: Map<string, { wrappedKey: Uint8Array; body: Buffer }>;
    }
  >();

  /**
   * The zero-knowledge pull: the winners of the token's scope as ciphertexts, with what each one's
   * AAD binds, and the token's wrapped environment key (sealed-pull.ts). No key is used or held.
   */
  async function pullSealed(
    client: { actor: Actor; token: AuthenticatedToken },
    masterKey?: KeyAccess,
  ): Promise<Buffer> {
    const { token } = client;
    if (token.kind !== 'keyed') throw new InvalidRequest('the sealed form needs a keyed token');
    if (token.wrappedKey === null) throw new InvalidToken();
    const s = await scopeOf(token.project, token.environment);
    const root = rootOf(s);
    // A master key sent along is not needed, but is checked as on every other call.
    if (masterKey) await keys.withDataKey(root, masterKey, async () => undefined);
    // Read before the winners, so a write in between only makes this entry stale (as resolveWithKey).
    const { revision } = await keys.requireRootKey(root.id);
    const scope = `${s.project.id}/${s.environment.id}`;
    let entry = sealedSecrets.get(scope);
    if (!entry || entry.revision !== revision) {
      const heads = await secretRepository.listWinners(
        db,
        s.chain.map((p) => p.id),
        s.environment.id,
      );
      const json = sealedSecretsJson(heads);
      const received = receivedKeys(
        s.environment.id,
        heads.map((head) => [head.projectId, head.key] as const),
      );
      entry = { revision, json, keys: heads.length, received, bodies: new Map() };
      sealedSecrets.set(scope, entry);
    }
    // Each token's whole answer, built once per revision (its wrapped key is the only part of its own).
    const { wrappedKey } = token;
    let built = entry.bodies.get(token.id);
    if (!built || !Buffer.from(built.wrappedKey).equals(wrappedKey)) {
      const body = sealedBody(
        {
          token: token.id,
          project: s.project.name,
          environment: s.environment.name,
          root: root.id,
          environment_id: s.environment.id,
          chain: s.chain.map((p) => ({ id: p.id, name: p.name })),
          wrapped_key: wrappedKey,
        },
        entry.json,
      );
      // Kept as bytes: the answer is several kilobytes, and encoding it again on every pull costs.
      built = { wrappedKey: Uint8Array.from(wrappedKey), body: Buffer.from(body) };
      entry.bodies.set(token.id, built);
    }
    // Counted as received: the token decrypts every ciphertext it is handed.
    auditApiRead(
      audit,
      client,
      null,
      { format: 'sealed', keys: entry.keys },
      { keys: entry.received, via: 'sealed_pull' },
    );
    return built.body;
  }

  return { pullSealed };
}
