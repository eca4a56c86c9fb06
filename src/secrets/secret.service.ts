import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { decryptValue, encryptValue, type ValueContext } from '../crypto/envelope.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { parseDotenv } from '../formats/dotenv.js';
import type { EnvironmentRow } from '../environments/environment.table.js';
import { InvalidRequest, NotFound, TooLarge, VersionConflict } from '../errors.js';
import { type DataKey, type KeyAccess, KeyRotatedMeanwhile, type KeyService } from '../keys/key.service.js';
import type { Keystore } from '../keys/keystore.js';
import type { ProjectService } from '../projects/project.service.js';
import type { ProjectRow } from '../projects/project.table.js';
import { secretRepository, type VersionHead } from './secret.repository.js';
import type { SecretVersionKind } from './secret.table.js';

export const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export interface ResolvedSecret {
  readonly value: string;
  readonly version: number;
  /** The project the value comes from (the asked project, or the ancestor it inherits from). */
  readonly project: string;
  readonly updatedAt: string;
}

export interface SecretSummary {
  readonly key: string;
  readonly version: number;
  readonly project: string;
  readonly inherited: boolean;
  readonly updatedAt: string;
}

interface Scope {
  readonly project: ProjectRow;
  readonly environment: EnvironmentRow;
  readonly chain: readonly ProjectRow[];
}

export function assertSecretKey(key: string): void {
  if (!SECRET_KEY.test(key)) {
    throw new InvalidRequest(
      `invalid key "${key.slice(0, 130)}": use letters, digits and "_", not starting with a digit, up to 128 characters`,
    );
  }
}

export function createSecretService(deps: {
  db: Kysely<Database>;
  projects: Pick<ProjectService, 'byName' | 'chain'>;
  environments: Pick<EnvironmentService, 'byName' | 'list'>;
  keys: Pick<KeyService, 'withDataKey' | 'bumpRevision'>;
  keystore: Pick<Keystore, 'resolved' | 'lastResolved' | 'rememberResolved' | 'rendered' | 'rememberRendered'>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
  maxSecretBytes: number;
}) {
  const { db, projects, environments, keys, keystore, audit, now, maxSecretBytes } = deps;

  function assertValue(key: string, value: unknown): asserts value is string {
    if (typeof value !== 'string') throw new InvalidRequest(`the value of ${key} must be a string`);
    if (Buffer.byteLength(value, 'utf8') > maxSecretBytes) {
      throw new TooLarge(`the value of ${key} is larger than ${maxSecretBytes} bytes`);
    }
  }

  async function scope(projectName: string, environmentName: string): Promise<Scope> {
    const project = await projects.byName(projectName);
    const environment = await environments.byName(environmentName);
    return { project, environment, chain: await projects.chain(project) };
  }

  const root = (s: Scope) => s.chain[0]!;
  const context = (s: Scope, projectId: string, key: string, version: number): ValueContext => ({
    rootId: s.project.root_id,
    projectId,
    environmentId: s.environment.id,
    key,
    version,
  });

  /** Writes one new version (a value, or a tombstone for `null`) of `key` in the scope's own project. */
  async function writeVersion(
    trx: Kysely<Database>,
    s: Scope,
    dek: Uint8Array | null,
    write: { key: string; value: string | null; kind: SecretVersionKind; cas?: number | undefined },
    actor: Actor,
  ): Promise<number> {
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
      write.value === null ? null : encryptValue(dek!, write.value, context(s, s.project.id, write.key, version));
    await secretRepository.insertVersion(trx, {
      secret_id: secretId,
      version,
      ciphertext,
      kind: write.kind,
      created_at: now().toISOString(),
      created_by: actor.name.slice(0, 200),
    });
    return version;
  }

  /** One transaction for a change made with a data key; fails if the key was rotated meanwhile. */
  function writeWithKey<T>(s: Scope, key: DataKey, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return writeTransaction(db, async (trx) => {
      const result = await fn(trx);
      if (!(await keys.bumpRevision(trx, root(s).id, key.keyVersion))) throw new KeyRotatedMeanwhile();
      return result;
    });
  }

  async function set(
    input: { project: string; environment: string; key: string; value: unknown; cas?: number | undefined },
    access: KeyAccess,
    actor: Actor,
  ): Promise<{ key: string; version: number }> {
    assertSecretKey(input.key);
    assertValue(input.key, input.value);
    const value = input.value;
    const s = await scope(input.project, input.environment);
    return keys.withDataKey(root(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const version = await writeVersion(
          trx,
          s,
          dataKey.dek,
          { key: input.key, value, kind: 'set', cas: input.cas },
          actor,
        );
        await audit.record(trx, {
          actor,
          action: 'secret_written',
          projectId: s.project.id,
          environment: s.environment.name,
          key: input.key,
          details: { version },
        });
        return { key: input.key, version };
      }),
    );
  }

  /**
   * A tombstone version. It needs no key, but a caller that must prove it holds one (the API) passes
   * `access`. NotFound when the project itself has no live value for `key`.
   */
  async function remove(
    input: { project: string; environment: string; key: string },
    actor: Actor,
    access?: KeyAccess,
  ): Promise<{ key: string; version: number }> {
    assertSecretKey(input.key);
    const s = await scope(input.project, input.environment);
    if (access) await keys.withDataKey(root(s), access, async () => undefined);
    return writeTransaction(db, async (trx) => {
      const existing = await secretRepository.findSecret(trx, s.project.id, s.environment.id, input.key);
      const head = existing && (await secretRepository.findVersion(trx, existing.id, existing.current_version));
      if (!head || head.ciphertext === null) throw new NotFound('secret', input.key);
      const version = await writeVersion(trx, s, null, { key: input.key, value: null, kind: 'delete' }, actor);
      await keys.bumpRevision(trx, root(s).id);
      await audit.record(trx, {
        actor,
        action: 'secret_deleted',
        projectId: s.project.id,
        environment: s.environment.name,
        key: input.key,
        details: { version },
      });
      return { key: input.key, version };
    });
  }

  async function rollback(
    input: { project: string; environment: string; key: string; version: number },
    access: KeyAccess,
    actor: Actor,
  ): Promise<{ key: string; version: number }> {
    assertSecretKey(input.key);
    const s = await scope(input.project, input.environment);
    const existing = await secretRepository.findSecret(db, s.project.id, s.environment.id, input.key);
    if (!existing) throw new NotFound('secret', input.key);
    return keys.withDataKey(root(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const old = await secretRepository.findVersion(trx, existing.id, input.version);
        if (!old) throw new NotFound(`version of ${input.key}`, String(input.version));
        if (old.ciphertext === null) {
          throw new InvalidRequest(
            `version ${input.version} of ${input.key} is a deletion: there is no value to restore`,
          );
        }
        const value = decryptValue(dataKey.dek, old.ciphertext, context(s, s.project.id, input.key, old.version));
        const version = await writeVersion(trx, s, dataKey.dek, { key: input.key, value, kind: 'rollback' }, actor);
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

  async function winners(s: Scope): Promise<VersionHead[]> {
    return secretRepository.listWinners(
      db,
      s.chain.map((p) => p.id),
      s.environment.id,
    );
  }

  /**
   * Every resolved value of a project in an environment, kept in the keystore until the root's
   * revision moves (a write anywhere, by any process). Only winning versions are decrypted, and only
   * those that changed since the last resolve: a version's value never changes (a rotation
   * re-encrypts the same value), so one found in the previous result is taken from there.
   */
  async function resolveWithKey(s: Scope, { dek, rootKey }: DataKey): Promise<ReadonlyMap<string, ResolvedSecret>> {
    const cacheScope = `${s.project.id}/${s.environment.id}`;
    // rootKey was read before the values below, so a write in between only makes this entry stale.
    const cached = keystore.resolved<ResolvedSecret>(root(s).id, cacheScope, rootKey.revision);
    if (cached) return cached;
    const previous = keystore.lastResolved<ResolvedSecret>(root(s).id, cacheScope);
    const names = new Map(s.chain.map((p) => [p.id, p.name]));
    const resolved = new Map<string, ResolvedSecret>();
    for (const head of await winners(s)) {
      const project = names.get(head.projectId)!;
      const known = previous?.get(head.key);
      resolved.set(head.key, {
        value:
          known && known.project === project && known.version === head.version
            ? known.value
            : decryptValue(dek, head.ciphertext, context(s, head.projectId, head.key, head.version)),
        version: head.version,
        project,
        updatedAt: head.createdAt,
      });
    }
    keystore.rememberResolved(root(s).id, cacheScope, rootKey.revision, resolved);
    return resolved;
  }

  async function resolve(
    input: { project: string; environment: string },
    access: KeyAccess,
  ): Promise<ReadonlyMap<string, ResolvedSecret>> {
    const s = await scope(input.project, input.environment);
    return keys.withDataKey(root(s), access, (dataKey) => resolveWithKey(s, dataKey));
  }

  /**
   * A response body rendered from the resolved values (`render` names the variant: json, dotenv …),
   * kept with the cached values until the root's revision moves, so a repeated pull neither decrypts
   * nor serialises again.
   */
  async function resolveRendered(
    input: { project: string; environment: string },
    access: KeyAccess,
    variant: string,
    render: (resolved: ReadonlyMap<string, ResolvedSecret>) => string,
  ): Promise<{ body: string; keys: number }> {
    const s = await scope(input.project, input.environment);
    return keys.withDataKey(root(s), access, async (dataKey) => {
      const cacheScope = `${s.project.id}/${s.environment.id}`;
      const resolved = await resolveWithKey(s, dataKey);
      const cached = keystore.rendered(root(s).id, cacheScope, dataKey.rootKey.revision, variant);
      if (cached !== undefined) return { body: cached, keys: resolved.size };
      const body = render(resolved);
      keystore.rememberRendered(root(s).id, cacheScope, dataKey.rootKey.revision, variant, body);
      return { body, keys: resolved.size };
    });
  }

  async function get(
    input: { project: string; environment: string; key: string },
    access: KeyAccess,
  ): Promise<ResolvedSecret> {
    assertSecretKey(input.key);
    const found = (await resolve(input, access)).get(input.key);
    if (!found) throw new NotFound('secret', input.key);
    return found;
  }

  /** Resolved keys with versions and source projects: metadata only, no key needed. */
  async function list(input: { project: string; environment: string }): Promise<SecretSummary[]> {
    const s = await scope(input.project, input.environment);
    const names = new Map(s.chain.map((p) => [p.id, p.name]));
    return (await winners(s)).map((head) => ({
      key: head.key,
      version: head.version,
      project: names.get(head.projectId)!,
      inherited: head.projectId !== s.project.id,
      updatedAt: head.createdAt,
    }));
  }

  /** Versions of a key in the project itself (not its ancestors), oldest first, without values. */
  async function history(input: { project: string; environment: string; key: string }) {
    assertSecretKey(input.key);
    const s = await scope(input.project, input.environment);
    const existing = await secretRepository.findSecret(db, s.project.id, s.environment.id, input.key);
    if (!existing) throw new NotFound('secret', input.key);
    return (await secretRepository.listVersions(db, existing.id)).map((row) => ({
      version: row.version,
      kind: row.kind,
      deleted: Boolean(row.tombstone),
      createdAt: row.created_at,
      createdBy: row.created_by,
    }));
  }

  /**
   * Every key of a dotenv file into the project, in one transaction. Every key and value is checked
   * before anything is written; keys whose value is unchanged get no new version.
   */
  async function importDotenv(
    input: { project: string; environment: string; content: string },
    access: KeyAccess,
    actor: Actor,
  ): Promise<{ written: string[]; unchanged: string[] }> {
    const entries = parseDotenv(input.content);
    if (entries.length === 0) throw new InvalidRequest('the file holds no KEY=value lines');
    for (const [key, value] of entries) {
      assertSecretKey(key);
      assertValue(key, value);
    }
    const s = await scope(input.project, input.environment);
    return keys.withDataKey(root(s), access, (dataKey) =>
      writeWithKey(s, dataKey, async (trx) => {
        const written: string[] = [];
        const unchanged: string[] = [];
        for (const [key, value] of entries) {
          const existing = await secretRepository.findSecret(trx, s.project.id, s.environment.id, key);
          const head = existing && (await secretRepository.findVersion(trx, existing.id, existing.current_version));
          const same =
            head?.ciphertext != null &&
            decryptValue(dataKey.dek, head.ciphertext, context(s, s.project.id, key, head.version)) === value;
          if (same) unchanged.push(key);
          else {
            await writeVersion(trx, s, dataKey.dek, { key, value, kind: 'import' }, actor);
            written.push(key);
          }
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

  /**
   * Re-encrypts every stored version of every secret of a root's tree from one data key to
   * another, in the caller's transaction (a rotation with --reencrypt). Returns how many.
   */
  async function reencryptTree(trx: Kysely<Database>, rootId: string, from: Uint8Array, to: Uint8Array) {
    let count = 0;
    for (const row of await secretRepository.listTreeCiphertexts(trx, rootId)) {
      const context: ValueContext = {
        rootId,
        projectId: row.project_id,
        environmentId: row.environment_id,
        key: row.key,
        version: row.version,
      };
      const value = decryptValue(from, row.ciphertext!, context);
      await secretRepository.replaceCiphertext(trx, row.secret_id, row.version, encryptValue(to, value, context));
      count += 1;
    }
    return count;
  }

  /** Keys resolved in some environments but missing in others (metadata only, no key needed). */
  async function diff(projectName: string) {
    const project = await projects.byName(projectName);
    const chainIds = (await projects.chain(project)).map((p) => p.id);
    const envs = await environments.list();
    const present = new Map<string, Set<string>>();
    for (const env of envs) {
      present.set(
        env.name,
        new Set((await secretRepository.listWinners(db, chainIds, env.id)).map((head) => head.key)),
      );
    }
    const allKeys = [...new Set([...present.values()].flatMap((keys) => [...keys]))].sort();
    const missing = allKeys
      .map((key) => ({
        key,
        presentIn: envs.filter((env) => present.get(env.name)!.has(key)).map((env) => env.name),
        missingIn: envs.filter((env) => !present.get(env.name)!.has(key)).map((env) => env.name),
      }))
      .filter((row) => row.missingIn.length > 0);
    return { environments: envs.map((env) => env.name), missing };
  }

  return { set, remove, rollback, resolve, resolveRendered, get, list, history, importDotenv, diff, reencryptTree };
}

export type SecretService = ReturnType<typeof createSecretService>;
