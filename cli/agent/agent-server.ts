import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseKeyedToken, tokenProof } from '../../src/crypto/scoped-keys.js';
import {
  AGENT_NAME,
  type HostHeldTitle,
  type HostHeldType,
  signSync,
  SYNC_SIGNATURE_HEADER,
  SYNC_TIMESTAMP_HEADER,
  syncSigningKey,
} from '../../src/agents/host-held-fns.js';
import { clientCredentials } from '../client-config.js';
import { CliError, UsageError } from '../io.js';
import { callServer } from '../server-client.js';
import type { HeldSecret, KnownScope } from './agent-store.js';

/**
 * The agent's side of the host-held API (src/agents/host-held.api.ts): which scope its token is
 * for, the titles the server holds for it, and the signed sync. A keyed token is presented as its
 * proof (`sfzk_…`), as a zero-knowledge pull does: the server never sees the part that unwraps keys.
 */

export interface AgentServer {
  readonly url: string;
  readonly token: string;
  readonly agent: string;
}

/** --agent, else AGENT_NAME, else this host's name (made into a valid agent name). */
export function agentName(option: string | undefined): string {
  const given = option ?? process.env.AGENT_NAME?.trim();
  if (given) {
    if (!AGENT_NAME.test(given)) {
      throw new UsageError(
        'an agent name is letters, digits, ".", "_" and "-", starting with a letter or digit, up to 63 characters',
      );
    }
    return given;
  }
  const host = os
    .hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return host === '' ? 'host' : host;
}

export function agentServer(agent: string): AgentServer {
  const { url, token } = clientCredentials();
  return { url, token, agent };
}

/** What goes in the Authorization header, and what the sync's HMAC key is derived from. */
function credentialOf(token: string): string {
  if (!token.startsWith('sfst_k1_')) return token;
  const keys = parseKeyedToken(token);
  if (!keys) throw new CliError('the token is not a valid secretsfly token');
  keys.wrappingKey.fill(0);
  const proof = tokenProof(keys.id, keys.authKey);
  keys.authKey.fill(0);
  return proof;
}

export interface ServerTitles extends KnownScope {
  readonly secrets: readonly { id: string; name: string; type: string; held_on_host: string }[];
}

/** The token's project and environment, and the titles the server holds for this agent there. */
export async function fetchTitles(server: AgentServer): Promise<ServerTitles> {
  const body = await callServer(`${server.url}/api/v1/host-held?agent=${encodeURIComponent(server.agent)}`, {
    headers: { authorization: `Bearer ${credentialOf(server.token)}` },
  });
  return JSON.parse(body) as ServerTitles;
}

/** The titles of `secrets` that belong to `scope`: never a value. */
export function titlesOf(secrets: readonly HeldSecret[], scope: KnownScope): HostHeldTitle[] {
  return secrets
    .filter((s) => s.project === scope.project && s.environment === scope.environment)
    .map((s) => ({
      id: s.id,
      name: s.name,
      type: s.type as HostHeldType,
      project: s.project,
      environment: s.environment,
    }));
}

/** Replaces this agent's set on the server: a signed PUT of the titles alone. */
export async function pushTitles(server: AgentServer, titles: readonly HostHeldTitle[]): Promise<void> {
  const credential = credentialOf(server.token);
  const apiPath = `/api/v1/host-held/${encodeURIComponent(server.agent)}`;
  // The nonce makes two syncs of the same set within one second two signatures: the server refuses
  // a signature it has seen (a replay), and `remove` then `agent sync` would otherwise be one.
  const body = JSON.stringify({ secrets: titles, nonce: randomBytes(16).toString('hex') });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = syncSigningKey(credential);
  // The API path, not the URL's: a proxy in front of the server may add a prefix the server never sees.
  const signature = signSync(key, { method: 'PUT', path: apiPath, timestamp, body });
  key.fill(0);
  await callServer(`${server.url}${apiPath}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      [SYNC_TIMESTAMP_HEADER]: timestamp,
      [SYNC_SIGNATURE_HEADER]: `v1=${signature}`,
    },
    body,
  });
}
