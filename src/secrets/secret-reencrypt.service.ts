import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { encryptValue, type ValueContext } from '../crypto/envelope.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { KeyRotatedMeanwhile } from '../errors.js';
import { type KeyAccess, type KeyService, valueKeysOf } from '../keys/key.service.js';
import type { ProjectRow } from '../projects/project.table.js';
import { secretRepository } from './secret.repository.js';
import { decryptStored } from './secret-scope.js';

/**
 * Re-encryption of a whole tree: by a rotation with --reencrypt (rotation.service.ts), and the
 * conversion of a tree from before environment keys (docs/crypto.md).
 */
export function createReencryptService(deps: {
  db: Kysely<Database>;
  keys: Pick<KeyService, 'withDataKey' | 'useEnvironmentKeys'>;
  audit: Pick<AuditService, 'record'>;
}) {
  const { db, keys, audit } = deps;

  /**
   * Re-encrypts every stored version of every secret of a root's tree from one set of value keys
   * to another (valueKeysOf), in the caller's transaction: a rotation with --reencrypt, or the
   * conversion to environment keys. Returns how many; `onProgress` hears of each one.
   */
  async function reencryptTree(
    trx: Kysely<Database>,
    rootId: string,
    from: (environmentId: string) => Uint8Array,
    to: (environmentId: string) => Uint8Array,
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    let count = 0;
    const rows = await secretRepository.listTreeCiphertexts(trx, rootId);
    for (const row of rows) {
      const context: ValueContext = {
        rootId,
        projectId: row.project_id,
        environmentId: row.environment_id,
        key: row.key,
        version: row.version,
      };
      const value = decryptStored(from(row.environment_id), row.ciphertext!, context);
      const ciphertext = encryptValue(to(row.environment_id), value, context);
      await secretRepository.replaceCiphertext(trx, row.secret_id, row.version, ciphertext);
      count += 1;
      onProgress?.(count, rows.length);
    }
    return count;
  }

  /**
   * Moves a tree from one data key for every value (a database from before scoped keys) to a key
   * per environment derived from it, re-encrypting every version in one transaction: a failure
   * part-way leaves the tree as it was. Needs the data key (master key, or an unsealed root); does
   * nothing for a tree already converted. Returns how many versions were re-encrypted, or undefined.
   */
  async function useEnvironmentKeys(root: ProjectRow, access: KeyAccess, actor: Actor): Promise<number | undefined> {
    return keys.withDataKey(root, access, async ({ dek, rootKey }) => {
      if (rootKey.value_keys === 'environment') return undefined;
      if (!dek) throw new Error('converting a tree to environment keys needs its data key');
      const to = valueKeysOf(root.id, dek, 'environment');
      try {
        return await writeTransaction(db, async (trx) => {
          const count = await reencryptTree(trx, root.id, () => dek, to.valueKey);
          if (!(await keys.useEnvironmentKeys(trx, root.id, rootKey.key_version))) throw new KeyRotatedMeanwhile();
          await audit.record(trx, {
            actor,
            action: 'environment_keys',
            projectId: root.id,
            details: { versions: count },
          });
          return count;
        });
      } finally {
        to.wipe();
      }
    });
  }

  return { reencryptTree, useEnvironmentKeys };
}
