import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { InvalidRequest } from '../errors.js';
import { parseDotenv } from '../formats/dotenv.js';
import { type DotenvWarning, findSurprisingDotenvLines } from '../formats/dotenv-lines.js';
import type { KeyAccess, KeyService } from '../keys/key.service.js';
import type { SecretReadService } from './secret-read.service.js';
import { secretRepository } from './secret.repository.js';
import type { SecretVersionKind } from './secret.table.js';
import { assertSecretKey, assertSecretValue } from './secret-key.js';
import { receivedBy, receivedKeys } from '../audit/secret-access.js';
import { decodeStoredValue } from './stored-value.js';
import type { TypedValue } from './typed-secrets.js';
import { decryptStored, rootOf, type ScopeInput, type ScopeLookup, valueContext } from './secret-scope.js';

/** A version of a key in its own project, with its value (null: a deletion). */
export interface RevealedVersion {
  readonly version: number;
  readonly kind: SecretVersionKind;
  /** null: a deletion; undefined: older than the newest SHOWN_VERSIONS, not decrypted. */
  readonly value: string | null | undefined;
  readonly createdAt: string;
  readonly createdBy: string;
}

/** What the admin UI's key page shows once unsealed: the value it resolves to, and its own history. */
export interface RevealedKey {
  /** The resolved value (possibly inherited), or undefined when the key resolves to nothing. */
  readonly current:
    | {
        readonly value: string;
        readonly version: number;
        readonly project: string;
        readonly typed?: TypedValue | undefined;
      }
    | undefined;
  /** Versions in the asked project itself, newest first. */
  readonly versions: readonly RevealedVersion[];
}

/** One key of a pasted dotenv block, compared with what the project holds itself. */
export interface BulkRow {
  readonly key: string;
  readonly status: 'added' | 'changed' | 'unchanged';
  readonly value: string;
  /** The project's own live value, when it has one. */
  readonly before: string | undefined;
  /** The ancestor whose value this key overrides once added here. */
  readonly overrides: string | undefined;
}

/** A bulk edit before it is applied: the rows, the import's warnings, and the versions it was compared with. */
export interface BulkPreview {
  readonly rows: readonly BulkRow[];
  readonly warnings: readonly DotenvWarning[];
  /** Per key, the project's own current version (0: none) the preview saw; apply refuses if one moved. */
  readonly seen: ReadonlyMap<string, number>;
}

/** Versions of a key whose values its page shows (older ones are listed without). */
export const SHOWN_VERSIONS = 20;

/**
 * What the admin UI reveals to edit values: one key with its history, and the preview of a pasted
 * dotenv block (applied by importDotenv with the versions the preview saw). Each decrypts, so each
 * is recorded as `secrets_revealed`.
 */
export function createSecretEditService(deps: {
  db: Kysely<Database>;
  scopeOf: ScopeLookup;
  keys: Pick<KeyService, 'withDataKey'>;
  audit: Pick<AuditService, 'recordAlone'>;
  resolve: SecretReadService['resolve'];
  maxSecretBytes: number;
}) {
  const { db, scopeOf, keys, audit, resolve, maxSecretBytes } = deps;

  async function revealKey(input: ScopeInput & { key: string }, access: KeyAccess, actor: Actor): Promise<RevealedKey> {
    assertSecretKey(input.key);
    const s = await scopeOf(input.project, input.environment);
    const current = (await resolve(input, access)).get(input.key);
    const existing = await secretRepository.findSecret(db, s.project.id, s.environment.id, input.key);
    const versions = await keys.withDataKey(rootOf(s), access, async (dataKey) => {
      if (!existing) return [];
      const valueKey = dataKey.valueKey(s.environment.id);
      const revealed: RevealedVersion[] = [];
      for (const [index, meta] of (await secretRepository.listVersions(db, existing.id)).reverse().entries()) {
        // A key with thousands of versions stays one page: the newest are shown with their values.
        if (index >= SHOWN_VERSIONS) {
          revealed.push({
            version: meta.version,
            kind: meta.kind,
            value: meta.tombstone ? null : undefined,
            createdAt: meta.created_at,
            createdBy: meta.created_by,
          });
          continue;
        }
        const row = (await secretRepository.findVersion(db, existing.id, meta.version))!;
        revealed.push({
          version: row.version,
          kind: row.kind,
          value:
            row.ciphertext === null
              ? null
              : decodeStoredValue(
                  decryptStored(valueKey, row.ciphertext, valueContext(s, s.project.id, input.key, row.version)),
                ).value,
          createdAt: row.created_at,
          createdBy: row.created_by,
        });
      }
      return revealed;
    });
    // In the key's access log: the value shown (the ancestor's, when inherited) and the project's own versions.
    const shown = new Map<string, readonly [string, string]>();
    if (current) {
      const source = s.chain.find((p) => p.name === current.project) ?? s.project;
      shown.set(source.id, [source.id, input.key]);
    }
    if (versions.some((v) => v.value !== null)) shown.set(s.project.id, [s.project.id, input.key]);
    const received = receivedBy(receivedKeys(s.environment.id, shown.values()), 'ui_reveal');
    await audit.recordAlone({
      actor,
      action: 'secrets_revealed',
      projectId: s.project.id,
      environment: s.environment.name,
      key: input.key,
      received: received.received,
      details: { ...received.details, versions: versions.filter((v) => v.value !== null).length },
    });
    return {
      current: current && {
        value: current.value,
        version: current.version,
        project: current.project,
        ...(current.typed && { typed: current.typed }),
      },
      versions,
    };
  }

  /**
   * A dotenv block compared with the project's own values, as importDotenv will write it: a key
   * whose own live value is the same is unchanged, any other is written (an inherited value is
   * overridden). Bad keys and values are refused here, before anything is shown.
   */
  async function previewDotenv(
    input: ScopeInput & { content: string },
    access: KeyAccess,
    actor: Actor,
  ): Promise<BulkPreview> {
    const entries = parseDotenv(input.content);
    if (entries.length === 0) throw new InvalidRequest('the block holds no KEY=value lines');
    for (const [key, value] of entries) {
      assertSecretKey(key);
      assertSecretValue(key, value, maxSecretBytes);
    }
    const s = await scopeOf(input.project, input.environment);
    const resolved = await resolve(input, access);
    const seen = new Map<string, number>();
    const rows = await keys.withDataKey(rootOf(s), access, async (dataKey) => {
      const valueKey = dataKey.valueKey(s.environment.id);
      const out: BulkRow[] = [];
      for (const [key, value] of entries) {
        const existing = await secretRepository.findSecret(db, s.project.id, s.environment.id, key);
        seen.set(key, existing?.current_version ?? 0);
        const head = existing && (await secretRepository.findVersion(db, existing.id, existing.current_version));
        const before =
          head?.ciphertext != null
            ? decodeStoredValue(
                decryptStored(valueKey, head.ciphertext, valueContext(s, s.project.id, key, head.version)),
              ).value
            : undefined;
        const inherited = resolved.get(key);
        out.push({
          key,
          value,
          before,
          status: before === undefined ? 'added' : before === value ? 'unchanged' : 'changed',
          overrides:
            before === undefined && inherited && inherited.project !== s.project.name ? inherited.project : undefined,
        });
      }
      return out;
    });
    // Each current value the preview shows is a reveal of that key, in its access log.
    const received = receivedBy(
      receivedKeys(
        s.environment.id,
        rows.filter((r) => r.before !== undefined).map((r) => [s.project.id, r.key] as const),
      ),
      'ui_reveal',
    );
    await audit.recordAlone({
      actor,
      action: 'secrets_revealed',
      projectId: s.project.id,
      environment: s.environment.name,
      received: received.received,
      details: { ...received.details, bulk_preview: 1 },
    });
    return { rows, warnings: findSurprisingDotenvLines(input.content), seen };
  }

  return { revealKey, previewDotenv };
}

export type SecretEditService = ReturnType<typeof createSecretEditService>;
