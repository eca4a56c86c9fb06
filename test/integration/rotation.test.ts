import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidMasterKey, InvalidRequest } from '../../src/errors.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import {
  actor,
  createTestContext,
  failCiphertextUpdates,
  removeFault,
  snapshotDatabase,
} from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

describe('master key rotation', () => {
  let ctx: Ctx;
  let oldKey: string;

  beforeEach(async () => {
    ctx = await createTestContext();
    oldKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    const access = { masterKey: masterKeyBytes(oldKey) };
    for (let i = 1; i <= 3; i++) {
      await ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'ROOT', value: `root-${i}` }, access, actor);
      await ctx.secrets.set(
        { project: 'acme-web', environment: 'staging', key: 'WEB', value: `web-${i}` },
        access,
        actor,
      );
    }
  });
  afterEach(() => ctx.dispose());

  const history = async (masterKey: string) => {
    const access = { masterKey: masterKeyBytes(masterKey) };
    const values: string[] = [];
    for (const version of [1, 2, 3]) {
      await ctx.secrets.rollback({ project: 'acme-web', environment: 'staging', key: 'WEB', version }, access, actor);
      values.push((await ctx.secrets.get({ project: 'acme-web', environment: 'staging', key: 'WEB' }, access)).value);
    }
    return values;
  };

  for (const reencrypt of [false, true]) {
    it(`should ${reencrypt ? 're-encrypt every version under a new data key' : 're-wrap the data key'} and keep all history readable`, async () => {
      const rotated = await ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes(oldKey), reencrypt },
        actor,
      );
      expect(rotated.masterKey).toMatch(/^sfmk_/);
      expect(rotated.reencrypted).toBe(reencrypt ? 6 : 0);
      await expect(
        ctx.secrets.get({ project: 'acme', environment: 'prod', key: 'ROOT' }, { masterKey: masterKeyBytes(oldKey) }),
      ).rejects.toThrow(InvalidMasterKey);
      expect(await history(rotated.masterKey!)).toEqual(['web-1', 'web-2', 'web-3']);
    });
  }

  it('should leave the old key and every value intact when re-encryption fails part-way', async () => {
    // A real fault in the middle of the transaction: the fourth ciphertext update aborts.
    await failCiphertextUpdates(ctx.dataDir, 4);
    const before = await snapshotDatabase(ctx.dataDir);
    await expect(
      ctx.rotation.rotate({ project: 'acme', oldMasterKey: masterKeyBytes(oldKey), reencrypt: true }, actor),
    ).rejects.toThrow(/injected fault/);
    expect(await snapshotDatabase(ctx.dataDir)).toEqual(before);
    await removeFault(ctx.dataDir);
    expect(await history(oldKey)).toEqual(['web-1', 'web-2', 'web-3']);
  });

  it('should refuse a child project, a wrong old key, and an unchanged key', async () => {
    const before = await snapshotDatabase(ctx.dataDir);
    await expect(
      ctx.rotation.rotate({ project: 'acme-web', oldMasterKey: masterKeyBytes(oldKey), reencrypt: false }, actor),
    ).rejects.toThrow(InvalidRequest);
    await expect(
      ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes('not-the-master-key'), reencrypt: true },
        actor,
      ),
    ).rejects.toThrow(InvalidMasterKey);
    await expect(
      ctx.rotation.rotate(
        { project: 'acme', oldMasterKey: masterKeyBytes(oldKey), newMasterKey: oldKey, reencrypt: false },
        actor,
      ),
    ).rejects.toThrow(/same as the old one/);
    expect(await snapshotDatabase(ctx.dataDir)).toEqual(before);
  });

  it('should refuse a write made with a data key that a rotation replaced meanwhile', async () => {
    const root = await ctx.projects.byName('acme');
    await expect(
      ctx.keys.withDataKey(root, { masterKey: masterKeyBytes(oldKey) }, async (dataKey) => {
        await ctx.rotation.rotate({ project: 'acme', oldMasterKey: masterKeyBytes(oldKey), reencrypt: true }, actor);
        // The caller still holds the old DEK here; a write with it must not land.
        return ctx.keys.bumpRevision(ctx.database.db, root.id, dataKey);
      }),
    ).resolves.toBe(false);
  });
});
