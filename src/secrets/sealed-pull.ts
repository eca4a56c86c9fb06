import { DecryptionFailed } from '../crypto/aead.js';
import { decryptValue } from '../crypto/envelope.js';
import { type TokenKeyBinding, unwrapEnvironmentKey } from '../crypto/scoped-keys.js';
import { resolveReferences, UnresolvableReference } from './references.js';
import { decodeStoredValue, type ReferenceReach } from './stored-value.js';
import type { TypedValue } from './typed-secrets.js';

/**
 * The zero-knowledge pull (docs/crypto.md): the server answers with ciphertexts and the token's
 * wrapped environment key; the client unwraps and decrypts. This file is the one definition of that
 * answer: the server builds it (sealedBody) and the CLI opens it (openSealedPull).
 */

export const SEALED_FORMAT = 'secretsfly-sealed/1';

/**
 * What a value's AAD binds (envelope.ts, ValueContext) beyond what the answer states once: its
 * root and environment are the answer's `root` and `environment_id`, its KEY is its name in
 * `secrets`. Written once, not per value: the answer is a third smaller.
 */
export interface SealedBinding {
  readonly project: string;
  readonly version: number;
}

export interface SealedSecret {
  readonly ciphertext: string;
  readonly aad: SealedBinding;
  readonly updated_at: string;
}

export interface SealedPull {
  readonly format: typeof SEALED_FORMAT;
  readonly token: string;
  readonly project: string;
  readonly environment: string;
  readonly root: string;
  readonly environment_id: string;
  /** The token's project and its ancestors, root first: where its values may come from. */
  readonly chain: readonly { id: string; name: string }[];
  readonly wrapped_key: string;
  readonly secrets: Readonly<Record<string, SealedSecret>>;
}

/** The winners of one scope, as the `secrets` member of the answer (JSON, cacheable: ciphertexts only). */
export function sealedSecretsJson(
  heads: readonly { projectId: string; key: string; version: number; ciphertext: Uint8Array; createdAt: string }[],
): string {
  const secrets: Record<string, SealedSecret> = Object.create(null);
  for (const head of heads) {
    secrets[head.key] = {
      ciphertext: Buffer.from(head.ciphertext).toString('base64'),
      aad: { project: head.projectId, version: head.version },
      updated_at: head.createdAt,
    };
  }
  return JSON.stringify(secrets);
}

/** The whole answer for one token: its own header around the scope's cached `secrets` JSON. */
export function sealedBody(
  header: Omit<SealedPull, 'format' | 'secrets' | 'wrapped_key'> & { wrapped_key: Uint8Array },
  secretsJson: string,
): string {
  const head: Omit<SealedPull, 'secrets'> = {
    format: SEALED_FORMAT,
    token: header.token,
    project: header.project,
    environment: header.environment,
    root: header.root,
    environment_id: header.environment_id,
    chain: header.chain,
    wrapped_key: Buffer.from(header.wrapped_key).toString('base64'),
  };
  return `${JSON.stringify(head).slice(0, -1)},"secrets":${secretsJson}}`;
}

/** The answer failed a check: the CLI prints this and uses none of it. */
export class SealedPullRefused extends Error {
  constructor(reason: string) {
    super(`the server's answer failed verification: ${reason}; nothing from it was used`);
    this.name = 'SealedPullRefused';
  }
}

/**
 * What the client remembers between pulls (no value, no key): the highest version it has received
 * of each key from each project, to refuse an answer that goes back to an older one.
 */
export interface PullMemory {
  readonly versions: Readonly<Record<string, number>>;
}

export interface OpenedSecret {
  /** As written; resolveSealedReferences resolves a template's references. */
  readonly value: string;
  readonly references?: ReferenceReach | undefined;
  /** A typed secret's type and fields (stored-value.ts). */
  readonly typed?: TypedValue | undefined;
  readonly version: number;
  /** The project the value comes from, by name. */
  readonly project: string;
  readonly updatedAt: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function readBytes(base64: unknown, what: string): Uint8Array {
  if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new SealedPullRefused(`${what} is not base64`);
  }
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

/**
 * Checks and decrypts a sealed answer with the token's own wrapping key. Refuses (SealedPullRefused)
 * anything that does not verify: an answer for another token, a wrapped key that does not open with
 * this token's binding (another token's key, another root, environment or chain, or their names
 * altered), a value whose AAD
 * names another root, environment, key or a project outside the chain, a ciphertext that fails its
 * AAD, and a version lower than one `previous` recorded for the same project and key.
 */
export function openSealedPull(
  body: string,
  token: { id: string; wrappingKey: Uint8Array },
  previous: PullMemory | undefined,
): { project: string; environment: string; secrets: Map<string, OpenedSecret>; memory: PullMemory } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SealedPullRefused('it is not complete JSON');
  }
  if (!isRecord(parsed) || parsed.format !== SEALED_FORMAT) {
    throw new SealedPullRefused(`it is not in the ${SEALED_FORMAT} format`);
  }
  const { token: tokenId, project, environment, root, environment_id, chain, wrapped_key, secrets } = parsed;
  if (tokenId !== token.id) throw new SealedPullRefused('it was made for another token');
  if (![project, environment, root, environment_id].every(isText) || !isRecord(secrets)) {
    throw new SealedPullRefused('a required field is missing');
  }
  if (
    !Array.isArray(chain) ||
    chain.length === 0 ||
    !chain.every((p) => isRecord(p) && isText(p.id) && isText(p.name))
  ) {
    throw new SealedPullRefused('its project chain is malformed');
  }
  const chainRows = chain as { id: string; name: string }[];
  const projects = new Map(chainRows.map((p) => [p.id, p.name]));
  const binding: TokenKeyBinding = {
    tokenId: token.id,
    rootId: root as string,
    environmentId: environment_id as string,
    environmentName: environment as string,
    chain: chainRows.map((p) => ({ id: p.id, name: p.name })),
  };
  let envKey: Uint8Array;
  try {
    envKey = unwrapEnvironmentKey(token.wrappingKey, readBytes(wrapped_key, 'the wrapped key'), binding);
  } catch (error) {
    if (error instanceof DecryptionFailed) {
      throw new SealedPullRefused(
        'the wrapped key does not open with this token for the project, environment and chain the answer names',
      );
    }
    throw error;
  }
  try {
    // The chain and the environment's name are bound by the unwrap above; these tie the rest to them.
    if (projects.size !== chainRows.length) throw new SealedPullRefused('its project chain names a project twice');
    if (chainRows.at(-1)!.name !== project) {
      throw new SealedPullRefused("its project is not the end of the token's chain");
    }
    const opened = new Map<string, OpenedSecret>();
    const versions: Record<string, number> = { ...previous?.versions };
    for (const [key, entry] of Object.entries(secrets)) {
      if (!isRecord(entry) || !isRecord(entry.aad)) throw new SealedPullRefused(`${key} is malformed`);
      const aad = entry.aad;
      // Not sent (the answer states them once), but refused if a value claims others.
      const claims = [
        ['root', root],
        ['environment', environment_id],
        ['key', key],
      ] as const;
      if (claims.some(([name, expected]) => name in aad && aad[name] !== expected)) {
        throw new SealedPullRefused(`${key} is bound to another root, environment or key`);
      }
      if (typeof aad.project !== 'string' || !projects.has(aad.project)) {
        throw new SealedPullRefused(`${key} comes from a project outside this token's chain`);
      }
      if (typeof aad.version !== 'number' || !Number.isSafeInteger(aad.version) || aad.version < 1) {
        throw new SealedPullRefused(`${key} has no valid version`);
      }
      const seen = `${aad.project}/${key}`;
      const last = versions[seen];
      if (last !== undefined && aad.version < last) {
        throw new SealedPullRefused(
          `${key} went back from version ${last} to ${aad.version} since the last pull (a replayed answer?)`,
        );
      }
      let value: string;
      try {
        value = decryptValue(envKey, readBytes(entry.ciphertext, `the ciphertext of ${key}`), {
          rootId: root as string,
          projectId: aad.project,
          environmentId: environment_id as string,
          key,
          version: aad.version,
        });
      } catch (error) {
        if (error instanceof DecryptionFailed) {
          throw new SealedPullRefused(`${key} does not decrypt with the binding it was sent with`);
        }
        throw error;
      }
      versions[seen] = aad.version;
      const stored = decodeStoredValue(value);
      opened.set(key, {
        value: stored.value,
        ...(stored.references && { references: stored.references }),
        ...(stored.typed && { typed: stored.typed }),
        version: aad.version,
        project: projects.get(aad.project)!,
        updatedAt: typeof entry.updated_at === 'string' ? entry.updated_at : '',
      });
    }
    return { project: project as string, environment: environment as string, secrets: opened, memory: { versions } };
  } finally {
    envKey.fill(0);
  }
}

/**
 * The opened values with their references resolved, as a keyed token's pull on the server does
 * (references.ts): within the answer's own project and environment, the only values the client holds.
 */
export async function resolveSealedReferences(opened: {
  project: string;
  environment: string;
  secrets: ReadonlyMap<string, OpenedSecret>;
}): Promise<Map<string, OpenedSecret>> {
  const values = await resolveReferences({ project: opened.project, environment: opened.environment }, opened.secrets, {
    keyed: true,
    load: () => Promise.reject(new UnresolvableReference('a keyed pull holds no other scope')),
  });
  return new Map([...values].map(([key, value]) => [key, { ...opened.secrets.get(key)!, value }]));
}
