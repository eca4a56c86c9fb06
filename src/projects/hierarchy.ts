import type { ProjectRow } from './project.table.js';

export const MAX_DEPTH = 32;

/**
 * The chain from the root down to `project`, given every project of its tree.
 * Walks parent links with a bound, so a corrupt cycle in the data cannot loop forever.
 */
export function chainOf(project: ProjectRow, tree: readonly ProjectRow[]): ProjectRow[] {
  const byId = new Map(tree.map((row) => [row.id, row]));
  const chain: ProjectRow[] = [project];
  let current = project;
  while (current.parent_id !== null) {
    const parent = byId.get(current.parent_id);
    if (!parent || chain.length > MAX_DEPTH || chain.includes(parent)) {
      throw new Error(`project ${project.name} has a broken ancestry`);
    }
    chain.unshift(parent);
    current = parent;
  }
  return chain;
}
