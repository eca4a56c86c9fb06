import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainOf } from '../../src/projects/hierarchy.js';
import type { ProjectRow } from '../../src/projects/project.table.js';
import { secretRepository } from '../../src/secrets/secret.repository.js';
import { createTestContext } from '../helpers/test-context.js';

type Context = Awaited<ReturnType<typeof createTestContext>>;

// Inheritance is picked in SQL (listWinners): these run it on a real database, with rows written
// straight into the tables (the chain's ids and what each level holds).
describe('inheritance', () => {
  let ctx: Context;
  let environmentId: string;
  beforeEach(async () => {
    ctx = await createTestContext();
    environmentId = (await ctx.environments.byName('prod')).id;
  });
  afterEach(() => ctx.dispose());

  async function project(id: string, parent: string | null = null) {
    await ctx.database.db
      .insertInto('projects')
      .values({ id, name: id, parent_id: parent, root_id: 'a', created_at: 'then' })
      .execute();
  }
  async function chain(...ids: string[]) {
    for (const [index, id] of ids.entries()) await project(id, index === 0 ? null : ids[index - 1]!);
    return ids;
  }
  /** Versions of `key` held at `projectId`, oldest first: a string is a value, null a tombstone. */
  async function hold(projectId: string, key: string, ...versions: (string | null)[]) {
    const id = `${projectId}/${key}`;
    await ctx.database.db
      .insertInto('secrets')
      .values({ id, project_id: projectId, environment_id: environmentId, key, current_version: versions.length })
      .execute();
    for (const [index, value] of versions.entries()) {
      await ctx.database.db
        .insertInto('secret_versions')
        .values({
          secret_id: id,
          version: index + 1,
          ciphertext: value === null ? null : new TextEncoder().encode(value),
          kind: value === null ? 'delete' : 'set',
          created_at: 'then',
          created_by: 'test',
        })
        .execute();
    }
  }
  const resolve = async (ids: string[]) =>
    Object.fromEntries(
      (await secretRepository.listWinners(ctx.database.db, ids, environmentId)).map((head) => [
        head.key,
        `${head.projectId}:v${head.version}:${new TextDecoder().decode(head.ciphertext)}`,
      ]),
    );

  it('should let the nearest project win at any depth, with its newest version', async () => {
    const ids = await chain('a', 'b', 'c', 'd', 'e');
    await hold('a', 'X', 'a1');
    await hold('c', 'X', 'c1', 'c2');
    await hold('a', 'Y', 'a1');
    await hold('b', 'Y', 'b1');
    await hold('e', 'Z', 'e1');
    expect(await resolve(ids)).toEqual({ X: 'c:v2:c2', Y: 'b:v1:b1', Z: 'e:v1:e1' });
    // An ancestor's view of the same rows stops at itself.
    expect(await resolve(ids.slice(0, 2))).toEqual({ X: 'a:v1:a1', Y: 'b:v1:b1' });
  });

  it("should reveal the ancestor's value again when a child deletes its override", async () => {
    const ids = await chain('root', 'child');
    await hold('root', 'X', 'r1');
    await hold('child', 'X', 'c1', null);
    expect(await resolve(ids)).toEqual({ X: 'root:v1:r1' });
  });

  it('should drop a key deleted at every level that had it, and keep a value restored after a delete', async () => {
    const ids = await chain('root', 'mid', 'leaf');
    await hold('root', 'X', 'r1', null);
    await hold('mid', 'Y', 'm1');
    await hold('leaf', 'Y', 'l1', null);
    await hold('leaf', 'W', 'l1', null, 'l3');
    expect(await resolve(ids)).toEqual({ Y: 'mid:v1:m1', W: 'leaf:v3:l3' });
  });

  it('should ignore projects outside the chain and other environments', async () => {
    const ids = await chain('root', 'leaf');
    await project('sibling', 'root');
    await hold('sibling', 'X', 's1');
    await hold('root', 'X', 'r1');
    const staging = (await ctx.environments.byName('staging')).id;
    await ctx.database.db
      .insertInto('secrets')
      .values({ id: 'staging-x', project_id: 'leaf', environment_id: staging, key: 'X', current_version: 1 })
      .execute();
    await ctx.database.db
      .insertInto('secret_versions')
      .values({
        secret_id: 'staging-x',
        version: 1,
        ciphertext: new Uint8Array([1]),
        kind: 'set',
        created_at: 'then',
        created_by: 'test',
      })
      .execute();
    expect(await resolve(ids)).toEqual({ X: 'root:v1:r1' });
  });

  it('should list keys in a stable order', async () => {
    const ids = await chain('r');
    for (const key of ['b', 'A', 'a', 'B_2', 'B_10']) await hold('r', key, 'v');
    expect(Object.keys(await resolve(ids))).toEqual(['A', 'B_10', 'B_2', 'a', 'b']);
  });
});

describe('hierarchy', () => {
  const row = (id: string, parent: string | null): ProjectRow => ({
    id,
    name: id,
    parent_id: parent,
    root_id: 'r',
    created_at: '',
  });
  const tree = [row('r', null), row('m', 'r'), row('l', 'm'), row('other', 'r')];

  it('should walk from the root down to the project', () => {
    expect(chainOf(tree[2]!, tree).map((p) => p.id)).toEqual(['r', 'm', 'l']);
  });

  it('should refuse to walk a corrupt cycle forever', () => {
    const looped = [row('x', 'y'), row('y', 'x')];
    expect(() => chainOf(looped[0]!, looped)).toThrow(/broken ancestry/);
  });
});
