import fs from 'node:fs';
import { clientCredentials } from '../client-config.js';
import { say } from '../io.js';
import { agentDataDir, loadKey, readStore, scopeKey, storeFile } from './agent-store.js';

/**
 * `secretsfly run` on a host that holds secrets (README, "Host-held secrets"): the values this
 * host holds for the token's project and environment join the pulled ones. The host's value wins
 * over a pulled value of the same name, and each such clash is said on stderr, by name only.
 * Nothing is asked of the server: the token's scope is the one an agent command last learned for it.
 */
export function mergeHostHeld<V extends { readonly value: string }>(
  pulled: ReadonlyMap<string, V>,
): Map<string, V | { value: string; heldType: string }> {
  const merged = new Map<string, V | { value: string; heldType: string }>(pulled);
  const dir = agentDataDir();
  if (!fs.existsSync(storeFile(dir))) return merged;
  const store = readStore(dir, loadKey(dir, { create: false }));
  if (store.secrets.length === 0) return merged;
  const { url, token } = clientCredentials();
  const key = scopeKey(url, token);
  const scope = key === undefined ? undefined : store.scopes[key];
  if (!scope) {
    say(
      `secretsfly: the host-held secrets in ${dir} were not added: no agent command has used this token yet (run 'secretsfly agent sync' once)`,
    );
    return merged;
  }
  for (const held of store.secrets) {
    if (held.project !== scope.project || held.environment !== scope.environment) continue;
    if (merged.has(held.name)) {
      say(`secretsfly: ${held.name} is held on this host and also pulled from the server: the host's value is used`);
    }
    merged.set(held.name, { value: held.value, heldType: held.type });
  }
  return merged;
}
