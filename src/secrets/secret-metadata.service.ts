import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import { NotFound } from '../errors.js';
import type { ProjectService } from '../projects/project.service.js';
import { secretRepository } from './secret.repository.js';
import { assertSecretKey } from './secret-key.js';
import type { ScopeInput, ScopeLookup } from './secret-scope.js';
import type { CertificateMetadata } from './typed-validation.js';

export interface SecretSummary {
  readonly key: string;
  readonly version: number;
  readonly project: string;
  readonly inherited: boolean;
  readonly updatedAt: string;
  /** generic, or a typed secret's type (plaintext metadata). */
  readonly type: string;
  /** A certificate's public metadata (subject, issuer, SANs, validity). */
  readonly certificate?: CertificateMetadata | undefined;
}

/**
 * Reads that need no key: which keys a scope resolves to (with their versions, source projects and
 * types), a key's history without values, the keys missing in some environments, and the
 * certificates about to expire (from their plaintext metadata).
 */
export function createSecretMetadataService(deps: {
  db: Kysely<Database>;
  scopeOf: ScopeLookup;
  projects: Pick<ProjectService, 'byName' | 'chain'>;
  environments: Pick<EnvironmentService, 'list'>;
}) {
  const { db, scopeOf, projects, environments } = deps;

  /** Resolved keys with versions and source projects: metadata only, no key needed. */
  async function list(input: ScopeInput): Promise<SecretSummary[]> {
    const s = await scopeOf(input.project, input.environment);
    const names = new Map(s.chain.map((p) => [p.id, p.name]));
    return (
      await secretRepository.listWinners(
        db,
        s.chain.map((p) => p.id),
        s.environment.id,
      )
    ).map((head) => ({
      key: head.key,
      version: head.version,
      project: names.get(head.projectId)!,
      inherited: head.projectId !== s.project.id,
      updatedAt: head.createdAt,
      type: head.type ?? 'generic',
      ...(head.metadata &&
        head.type === 'certificate' && { certificate: JSON.parse(head.metadata) as CertificateMetadata }),
    }));
  }

  /** Versions of a key in the project itself (not its ancestors), oldest first, without values. */
  async function history(input: ScopeInput & { key: string }) {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
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
   * Certificates whose current version expires before `until` (expired ones included), soonest
   * first: from the plaintext metadata, so no key is needed.
   */
  async function expiring(until: Date) {
    const rows = await secretRepository.listCurrentCertificates(db);
    return rows
      .map((row) => ({ ...row, certificate: JSON.parse(row.metadata!) as CertificateMetadata }))
      .filter((row) => Date.parse(row.certificate.not_after) <= until.getTime())
      .sort((a, b) => a.certificate.not_after.localeCompare(b.certificate.not_after))
      .map(({ project, environment, key, version, certificate }) => ({
        project,
        environment,
        key,
        version,
        certificate,
      }));
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

  /**
   * Compiles the resolution query before the first request needs it (http/warm-up.ts): its SQL
   * depends on the chain's length, so for chains of 1 to 3 projects.
   */
  async function warmUp(): Promise<void> {
    for (const length of [1, 2, 3]) {
      await secretRepository.listWinners(
        db,
        Array.from({ length }, (_, i) => `warm-up-${i}`),
        'warm-up',
      );
    }
  }

  return { list, history, diff, expiring, warmUp };
}
