import type { AccessVia, Actor, AuditEvent, AuditService, ReceivedKeys } from '../audit/audit.service.js';
import { receivedBy } from '../audit/secret-access.js';
import { DecryptionFailed } from '../crypto/aead.js';
import { decryptValue, type ValueContext } from '../crypto/envelope.js';
import { IntegrityFailed } from '../errors.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import type { EnvironmentRow } from '../environments/environment.table.js';
import type { ProjectService } from '../projects/project.service.js';
import type { ProjectRow } from '../projects/project.table.js';

/** Where secrets are asked for or written: a project and an environment, by name. */
export interface ScopeInput {
  readonly project: string;
  readonly environment: string;
}

/** A caller of the JSON API: a service token, whose project and environment are the scope. */
export interface ApiClient {
  readonly actor: Actor;
  readonly token: {
    readonly id: string;
    readonly projectId: string;
    readonly project: string;
    readonly environment: string;
  };
}

/** A scope's rows: the project, the environment, and the project's chain from its root down. */
export interface SecretScope {
  readonly project: ProjectRow;
  readonly environment: EnvironmentRow;
  readonly chain: readonly ProjectRow[];
}

export type ScopeLookup = (projectName: string, environmentName: string) => Promise<SecretScope>;

/** Names to rows; NotFound for an unknown project or environment. */
export function createScopeLookup(deps: {
  projects: Pick<ProjectService, 'byName' | 'chain'>;
  environments: Pick<EnvironmentService, 'byName'>;
}): ScopeLookup {
  const { projects, environments } = deps;
  return async (projectName, environmentName) => {
    const project = await projects.byName(projectName);
    const environment = await environments.byName(environmentName);
    return { project, environment, chain: await projects.chain(project) };
  };
}

export const rootOf = (s: SecretScope): ProjectRow => s.chain[0]!;

/** What a version's ciphertext is bound to (its AAD): moved to another row, it fails to decrypt. */
export const valueContext = (s: SecretScope, projectId: string, key: string, version: number): ValueContext => ({
  rootId: s.project.root_id,
  projectId,
  environmentId: s.environment.id,
  key,
  version,
});

/** A stored version's value; IntegrityFailed (naming the key) when its ciphertext fails the AEAD check. */
export function decryptStored(key: Uint8Array, ciphertext: Uint8Array, context: ValueContext): string {
  try {
    return decryptValue(key, ciphertext, context);
  } catch (error) {
    if (error instanceof DecryptionFailed) throw new IntegrityFailed(`${context.key} (version ${context.version})`);
    throw error;
  }
}

/**
 * Records an API read, queued for the audit log (identical reads within a batch are counted as one
 * event, so the hottest request writes nothing itself). `key` is null for a whole pull. `received`:
 * the keys the answer held, for the access log (by reference: the list is built once per revision).
 */
export function auditApiRead(
  audit: Pick<AuditService, 'enqueue'>,
  client: ApiClient,
  key: string | null,
  details: Record<string, string | number>,
  received: { keys: ReceivedKeys; via: AccessVia },
): void {
  const { token } = client;
  const access = receivedBy(received.keys, received.via);
  audit.enqueue(
    {
      actor: client.actor,
      action: 'api_read',
      projectId: token.projectId,
      environment: token.environment,
      key,
      details: { token_id: token.id, ...details, ...access.details },
      received: access.received,
    },
    { coalesce: true },
  );
}

/**
 * The `api_write` event of a change made through the API (none for other callers), recorded in the
 * change's own transaction: a write the client was told succeeded has its event even if the
 * process dies right after answering.
 */
export function apiWriteEvents(
  client: ApiClient | undefined,
  written: { key: string; version: number },
  details: { deleted?: 1 } = {},
): AuditEvent[] {
  if (!client) return [];
  return [
    {
      actor: client.actor,
      action: 'api_write',
      projectId: client.token.projectId,
      environment: client.token.environment,
      key: written.key,
      details: { token_id: client.token.id, version: written.version, ...details },
    },
  ];
}
