import { describe, expect, it } from 'vitest';
import { chainOf } from '../../src/projects/hierarchy.js';
import type { ProjectRow } from '../../src/projects/project.table.js';
import { resolveHeads } from '../../src/secrets/resolve.js';
import type { VersionHead } from '../../src/secrets/secret.repository.js';

const live = (projectId: string, key: string, version = 1): VersionHead => ({
  projectId,
  key,
  version,
  ciphertext: new Uint8Array([1]),
  createdAt: '2026-01-01T00:00:00.000Z',
});
const tombstone = (projectId: string, key: string, version = 2): VersionHead => ({ ...live(projectId, key, version), ciphertext: null });

describe('inheritance', () => {
  it('should let the nearest project win at any depth', () => {
    const chain = ['a', 'b', 'c', 'd', 'e'];
    const heads = [live('a', 'X'), live('c', 'X'), live('a', 'Y'), live('e', 'Z'), live('b', 'Y')];
    const resolved = resolveHeads(chain, heads);
    expect(resolved.get('X')?.projectId).toBe('c');
    expect(resolved.get('Y')?.projectId).toBe('b');
    expect(resolved.get('Z')?.projectId).toBe('e');
  });

  it("should reveal the ancestor's value again when a child deletes its override", () => {
    const resolved = resolveHeads(['root', 'child'], [live('root', 'X'), tombstone('child', 'X')]);
    expect(resolved.get('X')?.projectId).toBe('root');
  });

  it('should drop a key deleted at every level that had it', () => {
    const resolved = resolveHeads(['root', 'mid', 'leaf'], [tombstone('root', 'X'), live('mid', 'Y'), tombstone('leaf', 'Y')]);
    expect([...resolved.keys()]).toEqual(['Y']);
    expect(resolved.get('Y')?.projectId).toBe('mid');
  });

  it('should list keys in a stable order', () => {
    const resolved = resolveHeads(['r'], [live('r', 'b'), live('r', 'A'), live('r', 'a')]);
    expect([...resolved.keys()]).toEqual(['A', 'a', 'b']);
  });
});

describe('hierarchy', () => {
  const row = (id: string, parent: string | null): ProjectRow => ({ id, name: id, parent_id: parent, root_id: 'r', created_at: '' });
  const tree = [row('r', null), row('m', 'r'), row('l', 'm'), row('other', 'r')];

  it('should walk from the root down to the project', () => {
    expect(chainOf(tree[2]!, tree).map((p) => p.id)).toEqual(['r', 'm', 'l']);
  });

  it('should refuse to walk a corrupt cycle forever', () => {
    const looped = [row('x', 'y'), row('y', 'x')];
    expect(() => chainOf(looped[0]!, looped)).toThrow(/broken ancestry/);
  });
});
