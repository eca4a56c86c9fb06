import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlreadyExists, InvalidRequest } from '../../src/errors.js';
import { actor, createTestContext, snapshotDatabase } from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

describe('admin users', () => {
  let ctx: Ctx;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.dispose());

  it('should store a salted memory-hard hash and verify only the right password', async () => {
    await ctx.users.create('alice', 'correct horse battery', actor);
    const { users } = snapshotDatabase(ctx.dataDir) as { users: { password_hash: string }[] };
    expect(users[0]!.password_hash).toMatch(/^scrypt\$1\$\d+\$8\$1\$/);
    expect(users[0]!.password_hash).not.toContain('correct horse');
    expect(await ctx.users.verify('alice', 'correct horse battery')).toMatchObject({ username: 'alice' });
    expect(await ctx.users.verify('alice', 'wrong horse battery')).toBeUndefined();
    expect(await ctx.users.verify('bob', 'correct horse battery')).toBeUndefined();
    expect(await ctx.users.count()).toBe(1);
  });

  it('should refuse duplicates, bad names and short passwords', async () => {
    await ctx.users.create('alice', 'correct horse battery', actor);
    await expect(ctx.users.create('alice', 'another long password', actor)).rejects.toThrow(AlreadyExists);
    await expect(ctx.users.create('bad name', 'correct horse battery', actor)).rejects.toThrow(InvalidRequest);
    await expect(ctx.users.create('bob', 'short', actor)).rejects.toThrow(InvalidRequest);
  });
});
