import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { AppError, NotFound } from '../errors.js';
import type { DataKey, KeyAccess, KeyService } from '../keys/key.service.js';
import type { Keystore } from '../keys/keystore.js';
import { receivedBy } from '../audit/secret-access.js';
import { receivedOf, receivedOne } from './access-log-keys.js';
import { type LoadScope, resolveReferences, UnresolvableReference } from './references.js';
import { secretRepository, type VersionHead } from './secret.repository.js';
import { assertSecretKey } from './secret-key.js';
import {
  type ApiClient,
  auditApiRead,
  decryptStored,
  rootOf,
  type ScopeInput,
  type ScopeLookup,
  type SecretScope,
  valueContext,
} from './secret-scope.js';
import { decodeStoredValue, type ReferenceReach } from './stored-value.js';
import type { TypedValue } from './typed-secrets.js';

export interface ResolvedSecret {
  /** As written: a template's references are resolved only for pulls (withReferences). */
  readonly value: string;
  /** Set for a template (stored-value.ts): who it may reference. */
  readonly references?: ReferenceReach | undefined;
  /** Set for a typed secret: its type and fields (`value` is then their JSON, for display). */
  readonly typed?: TypedValue | undefined;
  readonly version: number;
  /** The project the value comes from (the asked project, or the ancestor it inherits from). */
  readonly project: string;
  readonly updatedAt: string;
}

type Render = (resolved: ReadonlyMap<string, ResolvedSecret>) => string;

/**
 * Reads of values: resolved through inheritance and references (with the keystore's caches of
 * decrypted values and rendered bodies). Reads that need no key: secret-metadata.service.ts.
 */
export function createSecretReadService(deps: {
  db: Kysely<Database>;
  scopeOf: ScopeLookup;
  keys: Pick<KeyService, 'withDataKey' | 'requireRootKey'>;
  keystore: Pick<Keystore, 'resolved' | 'lastResolved' | 'rememberResolved' | 'rendered' | 'rememberRendered'>;
  audit: Pick<AuditService, 'enqueue' | 'recordAlone'>;
}) {
  const { db, scopeOf, keys, keystore, audit } = deps;

  function winners(s: SecretScope): Promise<VersionHead[]> {
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
  async function resolveWithKey(s: SecretScope, dataKey: DataKey): Promise<ReadonlyMap<string, ResolvedSecret>> {
    const { rootKey } = dataKey;
    const cacheScope = `${s.project.id}/${s.environment.id}`;
    dataKey.assertOpens(s.environment.id);
    // rootKey was read before the values below, so a write in between only makes this entry stale.
    const cached = keystore.resolved<ResolvedSecret>(rootOf(s).id, cacheScope, rootKey.revision);
    if (cached) return cached;
    const previous = keystore.lastResolved<ResolvedSecret>(rootOf(s).id, cacheScope);
    const names = new Map(s.chain.map((p) => [p.id, p.name]));
    const resolved = new Map<string, ResolvedSecret>();
    for (const head of await winners(s)) {
      const project = names.get(head.projectId)!;
      const known = previous?.get(head.key);
      const stored =
        known && known.project === project && known.version === head.version
          ? known
          : decodeStoredValue(
              decryptStored(
                dataKey.valueKey(s.environment.id),
                head.ciphertext,
                valueContext(s, head.projectId, head.key, head.version),
              ),
            );
      resolved.set(head.key, {
        value: stored.value,
        ...(stored.references && { references: stored.references }),
        ...(stored.typed && { typed: stored.typed }),
        version: head.version,
        project,
        updatedAt: head.createdAt,
      });
    }
    keystore.rememberResolved(rootOf(s).id, cacheScope, rootKey.revision, resolved);
    return resolved;
  }

  /**
   * The values a pull hands out: `resolved` with each template's references resolved
   * (references.ts), other scopes of the tree read with the same data key. The same map when no
   * value is a template (the common case costs one scan).
   */
  async function withReferences(
    s: SecretScope,
    dataKey: DataKey,
    access: KeyAccess,
    resolved: ReadonlyMap<string, ResolvedSecret>,
    only?: readonly string[],
  ): Promise<ReadonlyMap<string, ResolvedSecret>> {
    if (![...resolved.values()].some((secret) => secret.references)) return resolved;
    const load: LoadScope = async (target) => {
      let t: SecretScope;
      try {
        t = await scopeOf(target.project, target.environment);
      } catch (error) {
        if (error instanceof AppError && error.code === 'not_found') throw new UnresolvableReference(error.message);
        throw error;
      }
      if (rootOf(t).id !== rootOf(s).id) {
        throw new UnresolvableReference(`project "${target.project}" is not in the tree of "${rootOf(s).name}"`);
      }
      return resolveWithKey(t, dataKey);
    };
    const values = await resolveReferences({ project: s.project.name, environment: s.environment.name }, resolved, {
      keyed: 'keyedToken' in access,
      load,
      ...(only && { only }),
    });
    return new Map([...values].map(([key, value]) => [key, { ...resolved.get(key)!, value }]));
  }

  async function resolve(input: ScopeInput, access: KeyAccess): Promise<ReadonlyMap<string, ResolvedSecret>> {
    const s = await scopeOf(input.project, input.environment);
    return keys.withDataKey(rootOf(s), access, (dataKey) => resolveWithKey(s, dataKey));
  }

  /**
   * A response body rendered from the resolved values (`variant` names it: json, dotenv …), kept
   * with the cached values until the root's revision moves, so a repeated pull neither decrypts nor
   * serialises again.
   */
  async function renderWithKey(s: SecretScope, dataKey: DataKey, access: KeyAccess, variant: string, render: Render) {
    const cacheScope = `${s.project.id}/${s.environment.id}`;
    const resolved = await resolveWithKey(s, dataKey);
    // Keyed pulls resolve references with a narrower reach, so their bodies are kept apart.
    const kept = 'keyedToken' in access ? `${variant}/keyed` : variant;
    const cached = keystore.rendered(rootOf(s).id, cacheScope, dataKey.rootKey.revision, kept);
    const received = receivedOf(s, resolved);
    if (cached !== undefined) return { body: cached, keys: resolved.size, received };
    // Every scope a reference reaches is in the same tree, so the root's revision covers it too.
    const body = render(await withReferences(s, dataKey, access, resolved));
    keystore.rememberRendered(rootOf(s).id, cacheScope, dataKey.rootKey.revision, kept, body);
    return { body, keys: resolved.size, received };
  }

  /**
   * The API's pull: the rendered body of the token's own scope, audited as `api_read` (queued and
   * coalesced, so the hottest request writes nothing itself). `format` is what the log records.
   */
  async function pull(
    client: ApiClient,
    access: KeyAccess,
    view: { format: string; variant: string },
    render: Render,
  ): Promise<{ body: string; keys: number }> {
    const { token } = client;
    const s = await scopeOf(token.project, token.environment);
    const rendered = await keys.withDataKey(rootOf(s), access, (dataKey) =>
      renderWithKey(s, dataKey, access, view.variant, render),
    );
    const via = 'keyedToken' in access ? 'keyed_pull' : 'pull';
    auditApiRead(audit, client, null, { format: view.format, keys: rendered.keys }, { keys: rendered.received, via });
    return rendered;
  }

  /** The decrypted view of the admin UI: every resolved value, audited as `secrets_revealed`. */
  async function reveal(
    input: ScopeInput,
    access: KeyAccess,
    actor: Actor,
  ): Promise<ReadonlyMap<string, ResolvedSecret>> {
    const s = await scopeOf(input.project, input.environment);
    const resolved = await keys.withDataKey(rootOf(s), access, (dataKey) => resolveWithKey(s, dataKey));
    await audit.recordAlone({
      actor,
      action: 'secrets_revealed',
      projectId: s.project.id,
      environment: s.environment.name,
      ...receivedBy(receivedOf(s, resolved), 'ui_reveal'),
    });
    return resolved;
  }

  /**
   * One value of a scope, inherited and with its references resolved (`raw`: as written, for the
   * editor). NotFound when the scope has no such key. `revealedTo`: the CLI's `secret get`,
   * recorded as `secrets_revealed` and in the key's access log.
   */
  async function get(
    input: ScopeInput & { key: string },
    access: KeyAccess,
    options: { raw?: boolean; revealedTo?: Actor } = {},
  ): Promise<ResolvedSecret> {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
    const found = await getIn(s, input.key, access, options);
    if (options.revealedTo) {
      await audit.recordAlone({
        actor: options.revealedTo,
        action: 'secrets_revealed',
        projectId: s.project.id,
        environment: s.environment.name,
        key: input.key,
        ...receivedBy(receivedOne(s, input.key, found.project), 'cli_get'),
      });
    }
    return found;
  }

  function getIn(s: SecretScope, key: string, access: KeyAccess, options: { raw?: boolean }): Promise<ResolvedSecret> {
    return keys.withDataKey(rootOf(s), access, async (dataKey) => {
      const resolved = await resolveWithKey(s, dataKey);
      const found = resolved.get(key);
      if (!found) throw new NotFound('secret', key);
      if (!found.references || options.raw) return found;
      return (await withReferences(s, dataKey, access, resolved, [key])).get(key)!;
    });
  }

  /**
   * One value for the API, from the token's own scope, its references resolved, audited as
   * `api_read` (queued, coalesced).
   */
  async function getForApi(client: ApiClient, key: string, access: KeyAccess): Promise<ResolvedSecret> {
    const { token } = client;
    assertSecretKey(key);
    const s = await scopeOf(token.project, token.environment);
    const secret = await getIn(s, key, access, {});
    auditApiRead(
      audit,
      client,
      key,
      { version: secret.version },
      { keys: receivedOne(s, key, secret.project), via: 'api_get' },
    );
    return secret;
  }

  return { resolve, pull, reveal, get, getForApi };
}

export type SecretReadService = ReturnType<typeof createSecretReadService>;
