import { sha256Hex } from '../../src/crypto/hash.js';
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
    const { users } = (await snapshotDatabase(ctx.dataDir)) as { users: { password_hash: string }[] };
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

  it('should audit a sign-in as login, and a wrong password or unknown name as login_failed with the name tried (hashed when unknown)', async () => {
    await ctx.users.create('alice', 'correct horse battery', actor);
    const from = { ip: '10.0.0.7', userAgent: 'test-agent' };
    expect(await ctx.users.signIn('alice', 'correct horse battery', from)).toMatchObject({ username: 'alice' });
    expect(await ctx.users.signIn('alice', 'wrong horse battery', from)).toBeUndefined();
    expect(await ctx.users.signIn('mallory', 'correct horse battery', from)).toBeUndefined();
    const events = await ctx.audit.list({ limit: 3 });
    expect(events.map((e) => [e.action, e.actor, e.ip, e.userAgent]).reverse()).toEqual([
      ['login', 'user:alice', '10.0.0.7', 'test-agent'],
      ['login_failed', 'user:alice', '10.0.0.7', 'test-agent'],
      ['login_failed', expect.stringMatching(/^user:\?[0-9a-f]{12}$/), '10.0.0.7', 'test-agent'],
    ]);
    // Not a plain hash of the name: a copy of the log cannot be used to test guesses offline.
    expect(events[0]!.actor).not.toBe(`user:?${sha256Hex('mallory').slice(0, 12)}`);
    // The same name gets the same tag while the server runs.
    await ctx.users.signIn('mallory', 'again', from);
    expect((await ctx.audit.list({ limit: 1 }))[0]!.actor).toBe(events[0]!.actor);
  });
});
