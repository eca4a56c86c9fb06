import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_KDF_PARAMS } from '../../src/crypto/kdf.js';
import { InvalidMasterKey, InvalidToken } from '../../src/errors.js';
import { createContext } from '../../src/main.js';
import { masterKeyBytes, presentedMasterKey } from '../../src/keys/master-key.js';
import { actor, createTestContext, engineEnv, selectRows, tempDir, writeSql } from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

// DESIGN.md §2b: what the original secretsfly got wrong, one test each.
describe('we do not repeat the original secretsfly', () => {
  let ctx: Ctx;
  let masterKey: string;
  let access: { masterKey: Uint8Array };

  beforeEach(async () => {
    ctx = await createTestContext();
    masterKey = (await ctx.projects.create({ name: 'p0' }, actor)).masterKey!;
    access = { masterKey: masterKeyBytes(masterKey) };
  });
  afterEach(() => ctx.dispose());

  it('used unauthenticated AES-CBC: a flipped byte of a stored ciphertext is an error, never garbage', async () => {
    await ctx.secrets.set({ project: 'p0', environment: 'prod', key: 'K', value: 'value' }, access, actor);
    const [{ ciphertext: blob }] = (await selectRows(ctx.dataDir, 'select ciphertext from secret_versions')) as [
      { ciphertext: Buffer },
    ];
    const last = blob.length - 1;
    blob[last]! ^= 0x80;
    await writeSql(ctx.dataDir, 'update secret_versions set ciphertext = ?', [blob]);
    await expect(ctx.secrets.get({ project: 'p0', environment: 'prod', key: 'K' }, access)).rejects.toThrow(
      /the stored value of K \(version 1\) failed its integrity check/,
    );
  });

  it('padded a short master key instead of deriving it: keys go through scrypt at OWASP cost or more', async () => {
    expect(DEFAULT_KDF_PARAMS).toMatchObject({ alg: 'scrypt', r: 8, p: 1 });
    expect(DEFAULT_KDF_PARAMS.N).toBeGreaterThanOrEqual(2 ** 17);
    const dataDir = tempDir();
    const real = await createContext(loadConfig({ DATA_DIR: dataDir, ...(await engineEnv(dataDir)) }));
    try {
      const chosen = 'aaaaaaaaaaaaaaaa';
      await real.projects.create({ name: 'padded', masterKey: chosen }, actor);
      const root = await real.projects.byName('padded');
      // A padded key (the old flaw) would have accepted these. The NUL one is refused at the edge:
      // scrypt's HMAC zero-pads keys, so it would otherwise derive the same KEK.
      const before = real.kdf.derivations;
      for (const near of [`${chosen}\0`, `${chosen}\n`, chosen.slice(0, 15)]) {
        expect(() => presentedMasterKey(near)).toThrow(InvalidMasterKey);
      }
      expect(real.kdf.derivations).toBe(before);
      for (const near of [`${chosen}b`, `b${chosen}`, chosen.toUpperCase()]) {
        await expect(real.keys.unseal(root, presentedMasterKey(near), 'test-session', actor)).rejects.toThrow(
          InvalidMasterKey,
        );
      }
      await real.keys.unseal(root, presentedMasterKey(chosen), 'test-session', actor);
      const stored = await real.keys.requireRootKey(root.id);
      expect(JSON.parse(stored.kdf)).toEqual(DEFAULT_KDF_PARAMS);
    } finally {
      await real.close();
    }
  });

  it('embedded the master key in every service token: a token holds none and cannot decrypt alone', async () => {
    const { token } = await ctx.tokens.create({ project: 'p0', environment: 'prod', access: 'read' }, actor);
    const decoded = [token, ...token.split('_').map((part) => Buffer.from(part, 'base64url').toString('latin1'))].join(
      '|',
    );
    expect(decoded).not.toContain(masterKey);
    expect(decoded).not.toContain(masterKey.slice(5));
    const authenticated = await ctx.tokens.authenticate(token);
    const root = await ctx.projects.byName(authenticated.project);
    await expect(
      ctx.keys.withDataKey(root, { masterKey: new TextEncoder().encode(token) }, async () => 1),
    ).rejects.toThrow(InvalidMasterKey);
  });

  it('re-encrypted only the latest value on rotation and dropped history: every version survives', async () => {
    for (const value of ['a', 'b', 'c'])
      await ctx.secrets.set({ project: 'p0', environment: 'prod', key: 'K', value }, access, actor);
    const rotated = await ctx.rotation.rotate(
      { project: 'p0', oldMasterKey: access.masterKey, reencrypt: true },
      actor,
    );
    const next = { masterKey: masterKeyBytes(rotated.masterKey!) };
    expect(rotated.reencrypted).toBe(3);
    for (const [version, value] of [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ] as const) {
      await ctx.secrets.rollback({ project: 'p0', environment: 'prod', key: 'K', version }, next, actor);
      expect((await ctx.secrets.get({ project: 'p0', environment: 'prod', key: 'K' }, next)).value).toBe(value);
    }
  });

  it('kept revoked tokens working from a cache: revocation takes effect on the very next request', async () => {
    const { token, view } = await ctx.tokens.create({ project: 'p0', environment: 'prod', access: 'read' }, actor);
    for (let i = 0; i < 3; i++) await ctx.tokens.authenticate(token);
    await ctx.tokens.revoke(view.id, actor);
    await expect(ctx.tokens.authenticate(token)).rejects.toThrow(InvalidToken);
  });

  it('resolved inheritance one level deep: values flow down eight levels', async () => {
    let parent = 'p0';
    for (let level = 1; level <= 8; level++) {
      await ctx.projects.create({ name: `p${level}`, parent }, actor);
      parent = `p${level}`;
    }
    await ctx.secrets.set({ project: 'p0', environment: 'prod', key: 'FROM_ROOT', value: 'root' }, access, actor);
    await ctx.secrets.set({ project: 'p4', environment: 'prod', key: 'FROM_MIDDLE', value: 'middle' }, access, actor);
    const leaf = await ctx.secrets.resolve({ project: 'p8', environment: 'prod' }, access);
    expect(Object.fromEntries([...leaf].map(([key, s]) => [key, [s.value, s.project]]))).toEqual({
      FROM_ROOT: ['root', 'p0'],
      FROM_MIDDLE: ['middle', 'p4'],
    });
  });

  it('had no audit log: every change leaves a hash-chained event', async () => {
    await ctx.secrets.set({ project: 'p0', environment: 'prod', key: 'K', value: 'v' }, access, actor);
    expect((await ctx.audit.list({})).map((e) => e.action)).toEqual(['secret_written', 'project_created']);
    expect(await ctx.audit.verify()).toEqual({ ok: true, events: 2 });
  });
});
