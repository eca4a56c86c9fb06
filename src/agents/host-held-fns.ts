import { hkdfSync } from 'node:crypto';
import { hmacSha256Hex } from '../crypto/hash.js';
import { InvalidRequest, TooLarge } from '../errors.js';
import { SECRET_KEY } from '../secrets/secret-key.js';

/**
 * The pure rules of host-held secrets, shared by the server (host-held.service.ts) and the agent
 * (cli/agent/): what a title is, how a sync is signed. docs/crypto.md, "Host-held secrets".
 */

/** At most this many titles per sync (per agent, project and environment). */
export const MAX_SYNC_ITEMS = 500;
/** A sync's timestamp may be this far from the server's clock, either way; its signature is remembered as long. */
export const SYNC_WINDOW_SECONDS = 300;

/** An agent's name: a host name, or what AGENT_NAME / --agent says. */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** The types a title may carry (the secret types of the README). */
export const HOST_HELD_TYPES = ['generic', 'credential', 'ssh_key', 'api_key', 'certificate'] as const;
export type HostHeldType = (typeof HOST_HELD_TYPES)[number];
/** A title's id: a random UUID, made by the agent. */
export const HOST_HELD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What an agent tells the server about one secret it holds: never the value. */
export interface HostHeldTitle {
  readonly id: string;
  readonly name: string;
  readonly type: HostHeldType;
  readonly project: string;
  readonly environment: string;
}

export function assertAgentName(name: string): void {
  if (!AGENT_NAME.test(name)) {
    throw new InvalidRequest(
      'invalid agent name: letters, digits, ".", "_" and "-", starting with a letter or digit, up to 63 characters',
    );
  }
}

/**
 * The titles of a sync body `{"secrets": [{id, name, type, project, environment}, …]}`, checked
 * whole: any bad item refuses the batch, and nothing of it is applied.
 */
export function parseSyncBody(body: unknown): HostHeldTitle[] {
  const items = (body as { secrets?: unknown } | null)?.secrets;
  if (typeof body !== 'object' || body === null || !Array.isArray(items)) {
    throw new InvalidRequest(
      'the body must be a JSON object like {"secrets": [{"id", "name", "type", "project", "environment"}]}',
    );
  }
  if (items.length > MAX_SYNC_ITEMS) {
    throw new TooLarge(`a sync carries at most ${MAX_SYNC_ITEMS} host-held secrets, not ${items.length}`);
  }
  const ids = new Set<string>();
  const names = new Set<string>();
  return items.map((item: unknown, index) => {
    const where = `item ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new InvalidRequest(`${where} is not an object`);
    const { id, name, type, project, environment, ...rest } = item as Record<string, unknown>;
    // A value (or anything else) sent by mistake is refused, not stored or ignored.
    const extra = Object.keys(rest);
    if (extra.length > 0)
      throw new InvalidRequest(`${where} has fields a title does not: ${extra.slice(0, 5).join(', ').slice(0, 100)}`);
    if (typeof id !== 'string' || !HOST_HELD_ID.test(id))
      throw new InvalidRequest(`${where}: "id" must be a lowercase UUID`);
    if (typeof name !== 'string' || !SECRET_KEY.test(name))
      throw new InvalidRequest(`${where}: "name" is not a valid KEY`);
    if (typeof type !== 'string' || !(HOST_HELD_TYPES as readonly string[]).includes(type)) {
      throw new InvalidRequest(`${where}: "type" must be one of ${HOST_HELD_TYPES.join(', ')}`);
    }
    if (
      typeof project !== 'string' ||
      project.length > 63 ||
      typeof environment !== 'string' ||
      environment.length > 32
    ) {
      throw new InvalidRequest(`${where}: "project" and "environment" must be names`);
    }
    if (ids.has(id)) throw new InvalidRequest(`${where}: id ${id} appears twice`);
    if (names.has(name)) throw new InvalidRequest(`${where}: ${name} appears twice`);
    ids.add(id);
    names.add(name);
    return { id, name, type: type as HostHeldType, project, environment };
  });
}

const encoder = new TextEncoder();

/**
 * The key that signs an agent's syncs: HKDF-SHA256 of the credential the agent presents (the
 * classic token, or a keyed token's proof `sfzk_…`). The server sees that credential in the request
 * but stores only its hash, so a copy of the database cannot sign a sync.
 */
export function syncSigningKey(credential: string): Uint8Array {
  return new Uint8Array(
    hkdfSync(
      'sha256',
      encoder.encode(credential),
      encoder.encode('secretsfly-hkdf-v1'),
      encoder.encode(JSON.stringify(['sf-agent-sync-v1'])),
      32,
    ),
  );
}

/** HMAC-SHA256 over the method, path, timestamp and the body's exact bytes, as lowercase hex. */
export function signSync(
  key: Uint8Array,
  request: { method: string; path: string; timestamp: string; body: Uint8Array | string },
): string {
  // The path and timestamp hold no newline (a URL path, digits): the parts cannot run into each other.
  return hmacSha256Hex(
    key,
    `sf-agent-sync-v1\n${request.method}\n${request.path}\n${request.timestamp}\n`,
    request.body,
  );
}

/** The header names of a signed sync. */
export const SYNC_TIMESTAMP_HEADER = 'x-secretsfly-timestamp';
export const SYNC_SIGNATURE_HEADER = 'x-secretsfly-signature';
