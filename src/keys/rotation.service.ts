import { timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { generateDataKey } from '../crypto/envelope.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { InvalidRequest, KeyRotatedMeanwhile } from '../errors.js';
import type { ProjectService } from '../projects/project.service.js';
import type { SecretService } from '../secrets/secret.service.js';
import type { TokenService } from '../tokens/token.service.js';
import { type KeyService, valueKeysOf } from './key.service.js';
import type { Keystore } from './keystore.js';
import { assertChosenMasterKey, generateMasterKey, masterKeyBytes } from './master-key.js';
import { rootKeyRepository } from './root-key.repository.js';

export function createRotationService(deps: {
  db: Kysely<Database>;
  projects: Pick<ProjectService, 'byName'>;
  keys: Pick<KeyService, 'requireRootKey' | 'unlock' | 'wrapForMasterKey'>;
  secrets: Pick<SecretService, 'reencryptTree'>;
  tokens: Pick<TokenService, 'withdrawKeyedTokens'>;
  keystore: Pick<Keystore, 'seal'>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
  /**
   * Removes what the committed rotation replaced from every file of the database (the WAL and free
   * pages); false when it could not finish. Until then a copy of DATA_DIR still holds the old wrapped
   * key and ciphertexts, which the retired master key opens.
   */
  scrub: () => boolean;
}) {
  const { db, projects, keys, secrets, tokens, keystore, audit, now, scrub } = deps;

  /**
   * Replaces a root's master key. Plain rotation re-wraps the same data key (instant); `reencrypt`
   * also makes a new data key, re-encrypts every version of every secret of the tree under the new
   * environment keys derived from it, and revokes the tree's keyed tokens (their wrapped keys would
   * open nothing, and nobody but their holders could rewrap them). Either way it is one transaction:
   * a failure part-way leaves the old master key, every value and every token as they were.
   * `onProgress` hears of every version re-encrypted.
   */
  async function rotate(
    input: { project: string; oldMasterKey: Uint8Array; newMasterKey?: string | undefined; reencrypt: boolean },
    actor: Actor,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{
    masterKey?: string;
    reencrypted: number;
    keyVersion: number;
    scrubbed: boolean;
    /** Keyed tokens revoked by a re-encryption. */
    revokedTokens: string[];
  }> {
    const project = await projects.byName(input.project);
    if (project.parent_id !== null) {
      throw new InvalidRequest(`"${project.name}" is not a root project: rotate the key of its root instead`);
    }
    if (input.newMasterKey !== undefined) assertChosenMasterKey(input.newMasterKey);
    const newMasterKey = input.newMasterKey ?? generateMasterKey();
    const newBytes = masterKeyBytes(newMasterKey);
    const rootKey = await keys.requireRootKey(project.id);
    const oldDek = await keys.unlock(rootKey, input.oldMasterKey);
    const newDek = input.reencrypt ? generateDataKey() : Uint8Array.from(oldDek);
    const from = valueKeysOf(project.id, oldDek, rootKey.value_keys);
    const to = valueKeysOf(project.id, newDek, 'environment');
    try {
      if (newBytes.length === input.oldMasterKey.length && timingSafeEqual(newBytes, input.oldMasterKey)) {
        throw new InvalidRequest('the new master key is the same as the old one');
      }
      const keyVersion = rootKey.key_version + 1;
      // The KDF runs before the transaction, never inside it.
      const wrapped = await keys.wrapForMasterKey(project.id, newBytes, newDek, keyVersion);
      const { reencrypted, revokedTokens } = await writeTransaction(db, async (trx) => {
        const count = input.reencrypt
          ? await secrets.reencryptTree(trx, project.id, from.valueKey, to.valueKey, onProgress)
          : 0;
        const replaced = await rootKeyRepository.replaceWrappedKey(trx, project.id, rootKey.key_version, {
          ...wrapped,
          rotated_at: now().toISOString(),
          ...(input.reencrypt && { value_keys: 'environment' as const }),
        });
        if (!replaced) throw new KeyRotatedMeanwhile();
        await audit.record(trx, {
          actor,
          action: 'key_rotated',
          projectId: project.id,
          details: { key_version: keyVersion },
        });
        if (input.reencrypt) {
          await audit.record(trx, {
            actor,
            action: 'reencrypted',
            projectId: project.id,
            details: { versions: count },
          });
        }
        const revoked = input.reencrypt ? await tokens.withdrawKeyedTokens(trx, project.id, actor) : [];
        return { reencrypted: count, revokedTokens: revoked };
      });
      // Whatever this process held under the old key is stale now.
      keystore.seal(project.id);
      const scrubbed = scrub();
      const result = { reencrypted, keyVersion, scrubbed, revokedTokens };
      return input.newMasterKey === undefined ? { masterKey: newMasterKey, ...result } : result;
    } finally {
      from.wipe();
      to.wipe();
      oldDek.fill(0);
      newDek.fill(0);
      newBytes.fill(0);
    }
  }

  return { rotate };
}

export type RotationService = ReturnType<typeof createRotationService>;
