import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { refuseHostHeld } from '../agents/host-held.service.js';
import { encryptValue } from '../crypto/envelope.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { InvalidRequest, KeyRotatedMeanwhile, NotFound, SurprisingDotenv, VersionConflict } from '../errors.js';
import { parseDotenv } from '../formats/dotenv.js';
import { describeDotenvWarning, findSurprisingDotenvLines } from '../formats/dotenv-lines.js';
import type { DataKey, KeyAccess, KeyService } from '../keys/key.service.js';
import { secretRepository } from './secret.repository.js';
import type { SecretVersionKind } from './secret.table.js';
import { assertSecretKey, assertSecretValue } from './secret-key.js';
import {
  apiWriteEvents,
  type ApiClient,
  decryptStored,
  rootOf,
  type ScopeInput,
  type ScopeLookup,
  type SecretScope,
  valueContext,
} from './secret-scope.js';
import { checkedWrite, type StoredWrite, storedForm } from './stored-form.js';
import { decodeStoredValue } from './stored-value.js';
import type { TypedValue } from './typed-secrets.js';

export interface WrittenVersion {
  readonly key: string;
  readonly version: number;
}

/** Every change to stored values: each write is a new version, checked against `cas` when given. */
export function createSecretWriteService(deps: {
  db: Kysely<Database>;
  scopeOf: ScopeLookup;
  keys: Pick<KeyService, 'withDataKey' | 'bumpRevision'>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
  maxSecretBytes: number;
}) {
  const { db, scopeOf, keys, audit, now, maxSecretBytes } = deps;

  /** Writes one new version (a value, or a tombstone for `null`) of `key` in the scope's own project. */
  async function writeVersion(
    trx: Kysely<Database>,
    s: SecretScope,
    valueKey: Uint8Array | null,
    write: StoredWrite & { kind: SecretVersionKind; cas?: number | undefined },
    actor: Actor,
  ): Promise<number> {
    const { plaintext, type, metadata } = storedForm(s, write, actor.name, maxSecretBytes);
    await refuseHostHeld(trx, s.project.id, s.environment.id, write.key);
    const existing = await secretRepository.findSecret(trx, s.project.id, s.environment.id, write.key);
    const current = existing?.current_version ?? 0;
    if (write.cas !== undefined) {
      const live = existing
        ? (await secretRepository.findVersion(trx, existing.id, current))?.ciphertext != null
        : false;
      const matches = write.cas === 0 ? !live : write.cas === current;
      if (!matches) throw new VersionConflict(write.key, current);
    }
    const version = current + 1;
    const secretId = existing?.id ?? randomUUID();
    if (existing) await secretRepository.setCurrentVersion(trx, secretId, version);
    else {
      await secretRepository.insertSecret(trx, {
        id: secretId,
        project_id: s.project.id,
        environment_id: s.environment.id,
        key: write.key,
        current_version: version,
      });
    }
    const ciphertext =
      plaintext === null ? null : encryptValue(valueKey!, plaintext, valueContext(s, s.project.id, write.key, version));
    await secretRepository.insertVersion(trx, {
      secret_id: secretId,
      version,
      ciphertext,
      kind: write.kind,
      type,
      metadata,
      created_at: now().toISOString(),
      created_by: actor.name.slice(0, 200),
    });
    return version;
  }

  /** One transaction for a change made with a data key; fails if the key was rotated meanwhile. */
  function writeWithKey<T>(s: SecretScope, key: DataKey, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return writeTransaction(db, async (trx) => {
      const result = await fn(trx);
      if (!(await keys.bumpRevision(trx, rootOf(s).id, key))) throw new KeyRotatedMeanwhile();
      return result;
    });
  }

  async function set(
    input: ScopeInput & { key: string; value: unknown; cas?: number | undefined; typed?: TypedValue | undefined },
    access: KeyAccess,
    actor: Actor,
    client?: ApiClient,
  ): Promise<WrittenVersion> {
    assertSecretKey(input.key);
    const { value, typed, metadata } = checkedWrite(input.key, input.value, input.typed, maxSecretBytes);
    const s = await scopeOf(input.project, input.environment);
    return keys.withDataKey(rootOf(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const version = await writeVersion(
          trx,
          s,
          dataKey.valueKey(s.environment.id),
          { key: input.key, value, kind: 'set', cas: input.cas, typed, metadata },
          actor,
        );
        await audit.record(
          trx,
          {
            actor,
            action: 'secret_written',
            projectId: s.project.id,
            environment: s.environment.name,
            key: input.key,
            details: { version },
          },
          ...apiWriteEvents(client, { key: input.key, version }),
        );
        return { key: input.key, version };
      }),
    );
  }

  /**
   * A tombstone version. It needs no key, but a caller that must prove it holds one (the API) passes
   * `access`. NotFound when the project itself has no live value for `key`.
   */
  async function remove(
    input: ScopeInput & { key: string },
    actor: Actor,
    access?: KeyAccess,
    client?: ApiClient,
  ): Promise<WrittenVersion> {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
    if (access) await keys.withDataKey(rootOf(s), access, async () => undefined);
    return writeTransaction(db, async (trx) => {
      await refuseHostHeld(trx, s.project.id, s.environment.id, input.key);
      const existing = await secretRepository.findSecret(trx, s.project.id, s.environment.id, input.key);
      const head = existing && (await secretRepository.findVersion(trx, existing.id, existing.current_version));
      if (!head || head.ciphertext === null) throw new NotFound('secret', input.key);
      const version = await writeVersion(trx, s, null, { key: input.key, value: null, kind: 'delete' }, actor);
      await keys.bumpRevision(trx, rootOf(s).id);
      await audit.record(
        trx,
        {
          actor,
          action: 'secret_deleted',
          projectId: s.project.id,
          environment: s.environment.name,
          key: input.key,
          details: { version },
        },
        ...apiWriteEvents(client, { key: input.key, version }, { deleted: 1 }),
      );
      return { key: input.key, version };
    });
  }

  async function rollback(
    input: ScopeInput & { key: string; version: number },
    access: KeyAccess,
    actor: Actor,
  ): Promise<WrittenVersion> {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
    const existing = await secretRepository.findSecret(db, s.project.id, s.environment.id, input.key);
    if (!existing) throw new NotFound('secret', input.key);
    return keys.withDataKey(rootOf(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const old = await secretRepository.findVersion(trx, existing.id, input.version);
        if (!old) throw new NotFound(`version of ${input.key}`, String(input.version));
        if (old.ciphertext === null) {
          throw new InvalidRequest(
            `version ${input.version} of ${input.key} is a deletion: there is no value to restore`,
          );
        }
        const valueKey = dataKey.valueKey(s.environment.id);
        const stored = decodeStoredValue(
          decryptStored(valueKey, old.ciphertext, valueContext(s, s.project.id, input.key, old.version)),
        );
        // A template is written again with the reach of whoever rolls back; a literal stays one.
        const version = await writeVersion(
          trx,
          s,
          valueKey,
          // A typed version was validated when first written: its metadata comes with it.
          {
            key: input.key,
            value: stored.value,
            kind: 'rollback',
            literal: !stored.references,
            typed: stored.typed,
            metadata: old.metadata,
          },
          actor,
        );
        await audit.record(trx, {
          actor,
          action: 'secret_rolled_back',
          projectId: s.project.id,
          environment: s.environment.name,
          key: input.key,
          details: { from_version: input.version, version },
        });
        return { key: input.key, version };
      }),
    );
  }

  /** `set` through the API: in the token's own project, with the master key it presented. */
  async function setForApi(
    client: ApiClient,
    input: { key: string; value: unknown; cas?: number | undefined; typed?: TypedValue | undefined },
    access: KeyAccess,
  ): Promise<WrittenVersion> {
    const { project, environment } = client.token;
    return set({ project, environment, ...input }, access, client.actor, client);
  }

  /** `remove` through the API: the token must still prove its master key. */
  async function removeForApi(client: ApiClient, key: string, access: KeyAccess): Promise<WrittenVersion> {
    const { project, environment } = client.token;
    return remove({ project, environment, key }, client.actor, access, client);
  }

  /**
   * Every key of a dotenv file into the project, in one transaction. Every key and value is checked
   * before anything is written; keys whose value is unchanged get no new version. A line the parser
   * would silently cut, keep or drop refuses the whole file unless `allowWarnings`. `onProgress`
   * hears of every key compared or written (a retried transaction starts again from 0).
   * `expectedVersions` (the UI's bulk edit: per key, the project's own version its preview saw, 0
   * for none) refuses the whole file with VersionConflict if any of them moved since.
   */
  async function importDotenv(
    input: ScopeInput & { content: string; allowWarnings?: boolean; expectedVersions?: ReadonlyMap<string, number> },
    access: KeyAccess,
    actor: Actor,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ written: string[]; unchanged: string[] }> {
    const warnings = findSurprisingDotenvLines(input.content).map(describeDotenvWarning);
    if (warnings.length > 0 && !input.allowWarnings) throw new SurprisingDotenv(warnings);
    const entries = parseDotenv(input.content);
    if (entries.length === 0) throw new InvalidRequest('the file holds no KEY=value lines');
    for (const [key, value] of entries) {
      assertSecretKey(key);
      assertSecretValue(key, value, maxSecretBytes);
    }
    const s = await scopeOf(input.project, input.environment);
    return keys.withDataKey(rootOf(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const valueKey = dataKey.valueKey(s.environment.id);
        const written: string[] = [];
        const unchanged: string[] = [];
        for (const [key, value] of entries) {
          const existing = await secretRepository.findSecret(trx, s.project.id, s.environment.id, key);
          const current = existing?.current_version ?? 0;
          if (input.expectedVersions && input.expectedVersions.get(key) !== current) {
            throw new VersionConflict(key, current);
          }
          const head = existing && (await secretRepository.findVersion(trx, existing.id, existing.current_version));
          const same =
            head?.ciphertext != null &&
            decodeStoredValue(
              decryptStored(valueKey, head.ciphertext, valueContext(s, s.project.id, key, head.version)),
            ).value === value;
          if (same) unchanged.push(key);
          else {
            await writeVersion(trx, s, valueKey, { key, value, kind: 'import' }, actor);
            written.push(key);
          }
          onProgress?.(written.length + unchanged.length, entries.length);
        }
        await audit.record(trx, {
          actor,
          action: 'imported',
          projectId: s.project.id,
          environment: s.environment.name,
          details: { written: written.length, unchanged: unchanged.length },
        });
        return { written, unchanged };
      }),
    );
  }

  return { set, setForApi, remove, removeForApi, rollback, importDotenv };
}

export type SecretWriteService = ReturnType<typeof createSecretWriteService>;
