import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidMasterKey, NotFound, Sealed, TooLarge, VersionConflict } from '../../src/errors.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import {
  actor,
  blobSql,
  createTestContext,
  rawSql,
  selectRows,
  snapshotDatabase,
  writeSql,
} from '../helpers/test-context.js';

type Ctx = Awaited<ReturnType<typeof createTestContext>>;

describe('secrets', () => {
  let ctx: Ctx;
  let access: { masterKey: Uint8Array };

  beforeEach(async () => {
    ctx = await createTestContext();
    const { masterKey } = await ctx.projects.create({ name: 'acme' }, actor);
    access = { masterKey: masterKeyBytes(masterKey!) };
    await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
    await ctx.projects.create({ name: 'acme-web-eu', parent: 'acme-web' }, actor);
    await ctx.projects.create({ name: 'acme-web-eu-1', parent: 'acme-web-eu' }, actor);
  });
  afterEach(() => ctx.dispose());

  const set = (project: string, key: string, value: string, environment = 'prod') =>
    ctx.secrets.set({ project, environment, key, value }, access, actor);
  const resolved = async (project: string, environment = 'prod') =>
    Object.fromEntries(
      [...(await ctx.secrets.resolve({ project, environment }, access))].map(([k, v]) => [k, v.value]),
    );

  it('should number every write as a new version and keep the history', async () => {
    expect(await set('acme', 'DB_URL', 'one')).toEqual({ key: 'DB_URL', version: 1 });
    expect(await set('acme', 'DB_URL', 'two')).toEqual({ key: 'DB_URL', version: 2 });
    await ctx.secrets.remove({ project: 'acme', environment: 'prod', key: 'DB_URL' }, actor);
    const history = await ctx.secrets.history({ project: 'acme', environment: 'prod', key: 'DB_URL' });
    expect(history.map((v) => [v.version, v.kind, v.deleted])).toEqual([
      [1, 'set', false],
      [2, 'set', false],
      [3, 'delete', true],
    ]);
    await expect(ctx.secrets.get({ project: 'acme', environment: 'prod', key: 'DB_URL' }, access)).rejects.toThrow(
      NotFound,
    );
  });

  it('should resolve four levels of inheritance, nearest project first', async () => {
    await set('acme', 'A', 'root-a');
    await set('acme', 'B', 'root-b');
    await set('acme', 'C', 'root-c');
    await set('acme-web', 'B', 'web-b');
    await set('acme-web-eu', 'C', 'eu-c');
    await set('acme-web-eu-1', 'D', 'leaf-d');
    expect(await resolved('acme-web-eu-1')).toEqual({ A: 'root-a', B: 'web-b', C: 'eu-c', D: 'leaf-d' });
    expect(await resolved('acme-web')).toEqual({ A: 'root-a', B: 'web-b', C: 'root-c' });
    const list = await ctx.secrets.list({ project: 'acme-web-eu-1', environment: 'prod' });
    expect(list.map((s) => [s.key, s.project, s.inherited])).toEqual([
      ['A', 'acme', true],
      ['B', 'acme-web', true],
      ['C', 'acme-web-eu', true],
      ['D', 'acme-web-eu-1', false],
    ]);
  });

  it("should show the parent's value again after the child's override is deleted", async () => {
    await set('acme', 'API_KEY', 'parent');
    await set('acme-web', 'API_KEY', 'child');
    expect((await resolved('acme-web')).API_KEY).toBe('child');
    await ctx.secrets.remove({ project: 'acme-web', environment: 'prod', key: 'API_KEY' }, actor);
    expect((await resolved('acme-web')).API_KEY).toBe('parent');
    await expect(
      ctx.secrets.remove({ project: 'acme-web', environment: 'prod', key: 'API_KEY' }, actor),
    ).rejects.toThrow(NotFound);
  });

  it('should keep environments apart', async () => {
    await set('acme', 'X', 'in-prod', 'prod');
    expect(await resolved('acme', 'staging')).toEqual({});
    const diff = await ctx.secrets.diff('acme-web');
    expect(diff.missing).toEqual([{ key: 'X', presentIn: ['prod'], missingIn: ['staging'] }]);
  });

  it('should roll back by writing the old value as a new version', async () => {
    await set('acme', 'K', 'first');
    await set('acme', 'K', 'second');
    const rolled = await ctx.secrets.rollback(
      { project: 'acme', environment: 'prod', key: 'K', version: 1 },
      access,
      actor,
    );
    expect(rolled.version).toBe(3);
    expect((await resolved('acme')).K).toBe('first');
  });

  it('should write only when the compare-and-set version matches', async () => {
    const write = (value: string, cas: number) =>
      ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'K', value, cas }, access, actor);
    await expect(write('v', 1)).rejects.toThrow(VersionConflict);
    expect((await write('v1', 0)).version).toBe(1);
    await expect(write('again', 0)).rejects.toThrow(VersionConflict);
    expect((await write('v2', 1)).version).toBe(2);
    await ctx.secrets.remove({ project: 'acme', environment: 'prod', key: 'K' }, actor);
    expect((await write('revived', 0)).version).toBe(4);
  });

  it('should refuse an oversized value and a wrong master key, changing nothing', async () => {
    await set('acme', 'K', 'kept');
    const before = await snapshotDatabase(ctx.dataDir);
    await expect(set('acme', 'BIG', 'x'.repeat(65537))).rejects.toThrow(TooLarge);
    await expect(
      ctx.secrets.set(
        { project: 'acme', environment: 'prod', key: 'K', value: 'x' },
        { masterKey: masterKeyBytes('wrong-master-key-000') },
        actor,
      ),
    ).rejects.toThrow(InvalidMasterKey);
    expect(await snapshotDatabase(ctx.dataDir)).toEqual(before);
  });

  it('should import a dotenv file in one transaction, rejecting bad keys before writing', async () => {
    const before = await snapshotDatabase(ctx.dataDir);
    await expect(
      ctx.secrets.importDotenv({ project: 'acme', environment: 'prod', content: 'GOOD=1\nbad-key=2\n' }, access, actor),
    ).rejects.toThrow(/invalid key \(character 4 is not allowed\)/);
    expect(await snapshotDatabase(ctx.dataDir)).toEqual(before);

    const content = 'A=1\nMULTI="line one\\nline two"\nQUOTED=\'has # hash\'\n';
    const first = await ctx.secrets.importDotenv({ project: 'acme', environment: 'prod', content }, access, actor);
    expect(first.written).toEqual(['A', 'MULTI', 'QUOTED']);
    expect(await resolved('acme')).toEqual({ A: '1', MULTI: 'line one\nline two', QUOTED: 'has # hash' });
    const again = await ctx.secrets.importDotenv(
      { project: 'acme', environment: 'prod', content: `${content}B=2\n` },
      access,
      actor,
    );
    expect(again).toEqual({ written: ['B'], unchanged: ['A', 'MULTI', 'QUOTED'] });
  });

  it('should fail to decrypt a ciphertext copied onto another row, never returning its value', async () => {
    await set('acme', 'PUBLIC', 'harmless');
    await set('acme', 'PRIVATE', 'the crown jewels');
    await set('acme-web', 'PUBLIC', 'child');
    await rawSql(
      ctx.dataDir,
      `update secret_versions set ciphertext = (select v.ciphertext from secret_versions v join secrets s on s.id = v.secret_id
         where s.key = 'PRIVATE') where secret_id = (select s.id from secrets s join projects p on p.id = s.project_id
         where s.key = 'PUBLIC' and p.name = 'acme-web')`,
    );
    await expect(resolved('acme-web')).rejects.toThrow(/failed its integrity check/);
  });

  it('should refuse to decrypt a flipped byte in the stored ciphertext', async () => {
    await set('acme', 'K', 'value');
    const [row] = await selectRows<{ secret_id: string; version: number; ciphertext: Buffer }>(
      ctx.dataDir,
      'select secret_id, version, ciphertext from secret_versions',
    );
    row!.ciphertext[30]! ^= 0x01; // inside the encrypted bytes, past the format byte and the nonce
    await writeSql(ctx.dataDir, 'update secret_versions set ciphertext = ? where secret_id = ? and version = ?', [
      row!.ciphertext,
      row!.secret_id,
      row!.version,
    ]);
    await expect(resolved('acme')).rejects.toThrow(/failed its integrity check/);
  });

  it('should need an admin unseal to use a root without its master key, and wipe the key copy after use', async () => {
    const root = await ctx.projects.byName('acme');
    await expect(ctx.keys.withDataKey(root, { unsealedBy: 'test-session' }, async () => 1)).rejects.toThrow(Sealed);
    await ctx.keys.unseal(root, access.masterKey, 'test-session', actor);
    const seen: Uint8Array[] = [];
    await ctx.keys.withDataKey(root, { unsealedBy: 'test-session' }, async ({ dek, valueKey }) => {
      seen.push(dek!, valueKey((await ctx.environments.byName('prod')).id));
      for (const key of seen) expect(key.some((b) => b !== 0)).toBe(true);
    });
    expect(seen).toHaveLength(2);
    for (const key of seen) expect(key.every((b) => b === 0)).toBe(true);
    await ctx.keys.seal(root, actor);
    await expect(ctx.keys.withDataKey(root, { unsealedBy: 'test-session' }, async () => 1)).rejects.toThrow(Sealed);
  });

  it('should derive the key once per master key and serve later reads from the API cache', async () => {
    await set('acme', 'K', 'v');
    const before = ctx.kdf.derivations;
    await resolved('acme');
    await resolved('acme-web');
    expect(ctx.kdf.derivations).toBe(before);
    await expect(
      ctx.secrets.resolve(
        { project: 'acme', environment: 'prod' },
        { masterKey: masterKeyBytes('wrong-master-key-000') },
      ),
    ).rejects.toThrow(InvalidMasterKey);
    expect(ctx.kdf.derivations).toBe(before + 1);
    await resolved('acme');
    expect(ctx.kdf.derivations).toBe(before + 1);
  });

  it('should decrypt only what a write changed, and everything again once the keys are sealed', async () => {
    await set('acme', 'A', 'a1');
    await set('acme-web', 'B', 'b1');
    expect(await resolved('acme-web')).toEqual({ A: 'a1', B: 'b1' });
    // Break B's stored ciphertext behind the service's back: a resolve that decrypted B would fail.
    await rawSql(
      ctx.dataDir,
      `update secret_versions set ciphertext = ${blobSql(Buffer.alloc(60))} where secret_id = (select id from secrets where key = 'B')`,
    );
    await set('acme', 'A', 'a2');
    expect(await resolved('acme-web')).toEqual({ A: 'a2', B: 'b1' });
    // Sealing wipes what was decrypted: the next resolve reads B afresh, and the damage shows.
    await ctx.keys.seal(await ctx.projects.byName('acme'), actor);
    await expect(resolved('acme-web')).rejects.toThrow(/failed its integrity check/);
  });

  it('should see a write made through another connection at the very next read', async () => {
    await set('acme', 'K', 'old');
    expect((await resolved('acme')).K).toBe('old');
    const other = await import('../../src/main.js').then((m) => m.createContext(ctx.config));
    try {
      await other.secrets.set({ project: 'acme', environment: 'prod', key: 'K', value: 'new' }, access, actor);
    } finally {
      await other.close();
    }
    expect((await resolved('acme')).K).toBe('new');
  });

  describe('audited by the service', () => {
    const client = (projectId: string) => ({
      actor: { name: 'token:t1', ip: '10.0.0.9', userAgent: 'secrets-test/1.0' },
      token: { id: 't1', projectId, project: 'acme-web', environment: 'prod' },
    });

    it('should record secrets_revealed for the decrypted view, without values', async () => {
      await set('acme', 'A', 'revealed-value-1');
      const resolved = await ctx.secrets.reveal({ project: 'acme-web', environment: 'prod' }, access, actor);
      expect(resolved.get('A')?.value).toBe('revealed-value-1');
      const [event] = await ctx.audit.list({ action: 'secrets_revealed' });
      expect(event).toMatchObject({
        projectId: (await ctx.projects.byName('acme-web')).id,
        environment: 'prod',
        actor: 'test',
        details: { keys: 1 },
      });
      expect(JSON.stringify(event)).not.toContain('revealed-value-1');
    });

    it('should queue api_read for pulls and single reads, counting identical pulls once', async () => {
      await set('acme', 'A', 'a');
      const web = client((await ctx.projects.byName('acme-web')).id);
      const view = { format: 'json', variant: 'json' };
      const render = (values: ReadonlyMap<string, { value: string }>) => JSON.stringify([...values.keys()]);
      for (let i = 0; i < 3; i++) expect((await ctx.secrets.pull(web, access, view, render)).body).toBe('["A"]');
      expect((await ctx.secrets.getForApi(web, 'A', access)).value).toBe('a');
      await ctx.audit.flush();
      const reads = await ctx.audit.list({ action: 'api_read' });
      // keys_sha256 names the list of keys received (the access log's anchor); last_at the last of a count.
      const sha = expect.stringMatching(/^[0-9a-f]{64}$/);
      expect(reads.map((e) => [e.key, e.details])).toEqual([
        ['A', { token_id: 't1', version: 1, keys: 1, keys_sha256: sha, via: 'api_get' }],
        [
          null,
          {
            token_id: 't1',
            format: 'json',
            keys: 1,
            keys_sha256: sha,
            via: 'pull',
            count: 3,
            last_at: expect.any(String),
          },
        ],
      ]);
      expect(reads[0]).toMatchObject({ actor: 'token:t1', ip: '10.0.0.9', projectId: web.token.projectId });
    });

    it('should write and delete in the token scope and record api_write for each in the same transaction', async () => {
      const web = client((await ctx.projects.byName('acme-web')).id);
      expect(await ctx.secrets.setForApi(web, { key: 'W', value: 'w1' }, access)).toEqual({ key: 'W', version: 1 });
      await expect(ctx.secrets.setForApi(web, { key: 'W', value: 'w2', cas: 0 }, access)).rejects.toThrow(
        VersionConflict,
      );
      expect(await ctx.secrets.removeForApi(web, 'W', access)).toEqual({ key: 'W', version: 2 });
      await expect(ctx.secrets.removeForApi(web, 'W', access)).rejects.toThrow(NotFound);
      await ctx.audit.flush();
      const writes = await ctx.audit.list({ action: 'api_write' });
      expect(writes.map((e) => [e.key, e.details])).toEqual([
        ['W', { token_id: 't1', version: 2, deleted: 1 }],
        ['W', { token_id: 't1', version: 1 }],
      ]);
      expect((await ctx.secrets.history({ project: 'acme-web', environment: 'prod', key: 'W' }))[0]).toMatchObject({
        createdBy: 'token:t1',
      });
    });
  });
});
