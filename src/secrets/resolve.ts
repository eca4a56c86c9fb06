import type { VersionHead } from './secret.repository.js';

/**
 * Inheritance: the root's values, overlaid by each descendant down to the leaf; the nearest live
 * value wins. A tombstone is simply no value at its level, so it reveals the ancestor's value again.
 * `chain` lists project ids from the root to the leaf.
 */
export function resolveHeads(chain: readonly string[], heads: readonly VersionHead[]): Map<string, VersionHead> {
  const depth = new Map(chain.map((projectId, index) => [projectId, index]));
  const winners = new Map<string, VersionHead>();
  for (const head of heads) {
    if (head.ciphertext === null) continue;
    const current = winners.get(head.key);
    if (!current || depth.get(head.projectId)! > depth.get(current.projectId)!) winners.set(head.key, head);
  }
  return new Map([...winners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
