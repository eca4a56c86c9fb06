import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidRequest, InvalidToken, NotFound } from '../../src/errors.js';
import { parseDuration } from '../../src/tokens/token-duration.js';
import { actor, createTestContext, readAllStored, selectRows } from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

describe('service tokens', () => {
  let ctx: Ctx;
  let now: Date;
  let masterKey: string;

  beforeEach(async () => {
    now = new Date('2026-11-22T12:00:00.000Z');
    ctx = await createTestContext({ overrides: { now: () => now } });
    masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'other' }, actor);
  });
  afterEach(() => ctx.dispose());

  it('should create a random token that carries no key material and is stored only as a hash', async () => {
    const { token, view } = await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    expect(token).toMatch(/^sfst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain(masterKey.slice(5));
    expect(Buffer.from(token, 'latin1').includes(Buffer.from(masterKey))).toBe(false);
    expect(view).toEqual({
      id: token.slice(5, 21),
      name: 'acme/prod',
      project: 'acme',
      environment: 'prod',
      access: 'read',
      kind: 'classic',
      created_at: now.toISOString(),
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
    });
    await ctx.close();
    const secretPart = token.slice(22);
    for (const { file, content } of await readAllStored(ctx.dataDir)) {
      expect(content.includes(secretPart), file).toBe(false);
    }
  });

  it('should authenticate a token to its own project and environment only', async () => {
    const { token } = await ctx.tokens.create({ project: 'acme', environment: 'staging', access: 'read_write' }, actor);
    expect(await ctx.tokens.authenticate(token)).toMatchObject({
      project: 'acme',
      environment: 'staging',
      access: 'read_write',
    });
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    await expect(ctx.tokens.authenticate(forged)).rejects.toThrow(InvalidToken);
    await expect(ctx.tokens.authenticate('sfst_0000000000000000_' + 'a'.repeat(43))).rejects.toThrow(InvalidToken);
    await expect(ctx.tokens.authenticate('not a token')).rejects.toThrow(InvalidToken);
  });

  it('should stop working the moment it is revoked', async () => {
    const { token, view } = await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    await ctx.tokens.authenticate(token);
    const revoked = await ctx.tokens.revoke(view.id, actor);
    expect(revoked.revoked_at).toBe(now.toISOString());
    await expect(ctx.tokens.authenticate(token)).rejects.toThrow(InvalidToken);
    await expect(ctx.tokens.revoke('ffffffffffffffff', actor)).rejects.toThrow(NotFound);
  });

  it('should expire, and record its last use at most once a minute', async () => {
    const { token, view } = await ctx.tokens.create(
      { project: 'acme', environment: 'prod', access: 'read', expiresInSeconds: parseDuration('30m') },
      actor,
    );
    expect(view.expires_at).toBe('2026-11-22T12:30:00.000Z');
    // Stamps are written in a batch 100 ms after the answer (token-touch.ts): written now instead.
    const settled = () => ctx.tokens.flushTouches();
    await ctx.tokens.authenticate(token);
    await settled();
    const used = now.toISOString();
    now = new Date(now.getTime() + 30_000);
    await ctx.tokens.authenticate(token);
    await settled();
    expect((await ctx.tokens.list('acme'))[0]!.last_used_at).toBe(used);
    now = new Date(now.getTime() + 60_000);
    await ctx.tokens.authenticate(token);
    await settled();
    expect((await ctx.tokens.list('acme'))[0]!.last_used_at).toBe(now.toISOString());
    now = new Date('2026-11-22T12:30:00.001Z');
    await expect(ctx.tokens.authenticate(token)).rejects.toThrow(InvalidToken);
  });

  it('should list tokens oldest first, by project, without the token', async () => {
    await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read', name: 'first' }, actor);
    now = new Date(now.getTime() + 1000);
    await ctx.tokens.create({ project: 'other', environment: 'prod', access: 'read', name: 'second' }, actor);
    expect((await ctx.tokens.list()).map((t) => t.name)).toEqual(['first', 'second']);
    expect((await ctx.tokens.list('other')).map((t) => t.name)).toEqual(['second']);
    expect(JSON.stringify(await ctx.tokens.list())).not.toMatch(/sfst_|token_hash/);
  });

  it('should parse durations and refuse nonsense', () => {
    expect([parseDuration('30m'), parseDuration('12h'), parseDuration('7d')]).toEqual([1800, 43200, 604800]);
    for (const bad of ['', '0m', '5', '1w', '-1h', '1.5h']) expect(() => parseDuration(bad)).toThrow(InvalidRequest);
  });

  it('should keep only the hash in the database', async () => {
    const { token } = await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    const [row] = await selectRows<Record<string, unknown>>(ctx.dataDir, 'select * from service_tokens');
    expect((row!.token_hash as Buffer).length).toBe(32);
    expect(JSON.stringify(row!)).not.toContain(token.slice(22));
  });
});
