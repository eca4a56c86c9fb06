import type { ReceivedKeys } from '../audit/audit.service.js';
import { receivedKeys } from '../audit/secret-access.js';
import type { SecretScope } from './secret-scope.js';

/**
 * The key list of a resolved map, for the access log: built once per map. The keystore keeps one
 * map per scope and revision, so a pull repeated at the same revision finds its list here and
 * carries it to the audit queue by reference, at the cost of one lookup.
 */
const lists = new WeakMap<ReadonlyMap<string, { readonly project: string }>, ReceivedKeys>();

/** The [source project id, key] pairs of `resolved` (names only, never a value), built once per map. */
export function receivedOf(s: SecretScope, resolved: ReadonlyMap<string, { readonly project: string }>): ReceivedKeys {
  let list = lists.get(resolved);
  if (!list) {
    const ids = new Map(s.chain.map((p) => [p.name, p.id]));
    list = receivedKeys(
      s.environment.id,
      [...resolved].map(([key, secret]) => [ids.get(secret.project)!, key] as const),
    );
    lists.set(resolved, list);
  }
  return list;
}

/** One key handed out on its own (API get, CLI get). */
export function receivedOne(s: SecretScope, key: string, project: string): ReceivedKeys {
  const source = s.chain.find((p) => p.name === project) ?? s.project;
  return receivedKeys(s.environment.id, [[source.id, key]]);
}
