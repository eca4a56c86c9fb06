import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor, createTestContext, rawSql } from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

describe('audit log', () => {
  let ctx: Ctx;
  let masterKey: string;

  beforeEach(async () => {
    ctx = await createTestContext();
    masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    const access = { masterKey: masterKeyBytes(masterKey) };
    await ctx.secrets.set(
      { project: 'acme', environment: 'prod', key: 'DB_PASSWORD', value: 'hunter2-value' },
      access,
      actor,
    );
    await ctx.secrets.rollback({ project: 'acme', environment: 'prod', key: 'DB_PASSWORD', version: 1 }, access, actor);
    await ctx.secrets.remove({ project: 'acme', environment: 'prod', key: 'DB_PASSWORD' }, actor);
    const { view } = await ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    await ctx.tokens.revoke(view.id, actor);
    const root = await ctx.projects.byName('acme');
    await ctx.keys.unseal(root, masterKeyBytes(masterKey), 'test-session', actor);
    await expect(ctx.keys.unseal(root, masterKeyBytes('a-wrong-master-key'), 'test-session', actor)).rejects.toThrow();
    await ctx.keys.seal(root, actor);
    await ctx.rotation.rotate({ project: 'acme', oldMasterKey: masterKeyBytes(masterKey), reencrypt: true }, actor);
  });
  afterEach(() => ctx.dispose());

  it('should record every lifecycle action, newest first, without values', async () => {
    const events = await ctx.audit.list({});
    expect(events.map((e) => e.action).reverse()).toEqual([
      'project_created',
      'secret_written',
      'secret_rolled_back',
      'secret_deleted',
      'token_created',
      'token_revoked',
      'unseal',
      'unseal_failed',
      'seal',
      'key_rotated',
      'reencrypted',
    ]);
    const all = JSON.stringify(events);
    expect(all).not.toContain('hunter2-value');
    expect(all).not.toContain(masterKey);
    expect(events.find((e) => e.action === 'secret_written')).toMatchObject({
      key: 'DB_PASSWORD',
      environment: 'prod',
      actor: 'test',
    });
  });

  it('should verify an untouched chain', async () => {
    expect(await ctx.audit.verify()).toEqual({ ok: true, events: 11 });
  });

  it('should detect an edited event', async () => {
    await rawSql(ctx.dataDir, "update audit_events set actor = 'someone-else' where seq = 4");
    expect(await ctx.audit.verify()).toMatchObject({ ok: false, problem: 'event 4 was altered' });
  });

  it('should detect a deleted event', async () => {
    await rawSql(ctx.dataDir, 'delete from audit_events where seq = 5');
    expect(await ctx.audit.verify()).toMatchObject({ ok: false, problem: 'event 5 is missing (next is 6)' });
  });

  it('should detect a broken link between two events', async () => {
    await rawSql(ctx.dataDir, "update audit_events set prev_hash = '" + 'f'.repeat(64) + "' where seq = 3");
    expect(await ctx.audit.verify()).toMatchObject({ ok: false, problem: 'event 3 does not follow event 2' });
  });

  it('should check only the events written since the last incremental check', async () => {
    expect(await ctx.audit.verifyIncrementally()).toEqual({ ok: true, events: 11 });
    // Already verified: the page no longer sees an edit here, the full walk still does.
    await rawSql(ctx.dataDir, "update audit_events set actor = 'someone-else' where seq = 4");
    await ctx.projects.create({ name: 'other' }, actor);
    expect(await ctx.audit.verifyIncrementally()).toEqual({ ok: true, events: 12 });
    expect(await ctx.audit.verify()).toMatchObject({ ok: false, events: 3, problem: 'event 4 was altered' });
    // Once the full walk has found it, the page reports it too.
    expect(await ctx.audit.verifyIncrementally()).toMatchObject({ ok: false, problem: 'event 4 was altered' });
  });

  it('should catch an edited new event and a change to the last verified one on the next incremental check', async () => {
    expect(await ctx.audit.verifyIncrementally()).toEqual({ ok: true, events: 11 });
    await ctx.projects.create({ name: 'other' }, actor);
    await ctx.projects.create({ name: 'third' }, actor);
    await rawSql(ctx.dataDir, "update audit_events set actor = 'someone-else' where seq = 13");
    expect(await ctx.audit.verifyIncrementally()).toEqual({ ok: false, events: 12, problem: 'event 13 was altered' });
    await rawSql(ctx.dataDir, 'delete from audit_events where seq >= 12');
    expect(await ctx.audit.verifyIncrementally()).toMatchObject({
      ok: false,
      problem: 'event 12 was deleted after it had been verified',
    });
  });

  it('should share one walk between concurrent checks', async () => {
    const [a, b] = await Promise.all([ctx.audit.verifyIncrementally(), ctx.audit.verifyIncrementally()]);
    expect(a).toBe(b);
  });

  it('should filter by project', async () => {
    const other = await ctx.projects.create({ name: 'other' }, actor);
    const events = await ctx.audit.list({ projectIds: [other.project.id] });
    expect(events.map((e) => e.action)).toEqual(['project_created']);
  });
});

describe('sealing on a timer and on shutdown', () => {
  it('should audit an auto-seal after ADMIN_MASTER_KEY_EXPIRATION, and seal everything on close', async () => {
    const ctx = await createTestContext({ env: { ADMIN_MASTER_KEY_EXPIRATION: '1' } });
    try {
      const a = await ctx.projects.create({ name: 'a' }, actor);
      const b = await ctx.projects.create({ name: 'b' }, actor);
      await ctx.keys.unseal(await ctx.projects.byName('a'), masterKeyBytes(a.masterKey!), 'test-session', actor);
      expect(ctx.keystore.isUnsealed(a.project.id)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1300));
      expect(ctx.keystore.isUnsealed(a.project.id)).toBe(false);
      expect((await ctx.audit.list({ projectIds: [a.project.id] }))[0]).toMatchObject({
        action: 'auto_seal',
        actor: 'system',
      });

      await ctx.keys.unseal(await ctx.projects.byName('b'), masterKeyBytes(b.masterKey!), 'test-session', actor);
      expect(ctx.keystore.isUnsealed(b.project.id)).toBe(true);
      await ctx.close();
      expect(ctx.keystore.isUnsealed(b.project.id)).toBe(false);
    } finally {
      await ctx.dispose();
    }
  });
});
