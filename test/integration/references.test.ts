import { randomUUID } from 'node:crypto';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptValue } from '../../src/crypto/envelope.js';
import { resolveSealedReferences } from '../../src/secrets/sealed-pull.js';
import { bytesOf, keyedParts, openValues, type ScopedTree, startScopedTree } from '../helpers/scoped-tree.js';

/**
 * Secret references (`${KEY}`, `${env.KEY}`, `${project.env.KEY}`, `$${`) through every pull path
 * of the API: classic (token + master key), keyed (whole token) and zero-knowledge (opened as the
 * CLI opens it; test/cli/references.test.ts drives the real CLI). What a reference may reach, and
 * what the owners wrote staying what history and the editor show.
 */

const OWNER = { name: 'user:owner' };

describe('secret references', () => {
  let t: ScopedTree;
  let access: { masterKey: Uint8Array };

  const write = (project: string, environment: string, key: string, value: string, actor = OWNER) =>
    t.ctx.secrets.set({ project, environment, key, value }, access, actor);

  beforeAll(async () => {
    t = await startScopedTree();
    access = { masterKey: bytesOf(t.masterKey) };
    // The root holds the template; each project and environment fills it with its own values.
    await write('acme', 'prod', 'DB_HOST', 'db-prod.internal');
    await write('acme', 'staging', 'DB_HOST', 'db-staging.internal');
    await write('acme', 'prod', 'DB_USER', 'root-user');
    await write('acme', 'prod', 'URL', 'postgres://${DB_USER}@${DB_HOST}/app');
    await write('acme', 'staging', 'URL', 'postgres://${DB_USER}@${DB_HOST}/app');
    await write('acme-web', 'prod', 'DB_USER', 'web');
    await write('acme-web', 'staging', 'DB_USER', 'web-stg');
    await write('acme-web', 'prod', 'PRICE', 'costs $${AMOUNT}, $5 and ${DB_USER}$');
    await write('acme-web', 'prod', 'STAGING_URL', '${staging.URL}');
    await write('acme-web', 'prod', 'ROOT_HOST', '${acme.prod.DB_HOST}');
    t.forget();
  });
  afterAll(async () => {
    await t?.server.close();
  });

  const RESOLVED = {
    URL: 'postgres://web@db-prod.internal/app',
    PRICE: 'costs ${AMOUNT}, $5 and web$',
    STAGING_URL: 'postgres://web-stg@db-staging.internal/app',
    ROOT_HOST: 'db-prod.internal',
  };

  it('should resolve references after inheritance on a classic pull, in every format and for one key', async () => {
    const json = await t.get('/secrets', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(json.status, json.text).toBe(200);
    expect(json.json.secrets).toMatchObject(RESOLVED);

    const dotenv = await t.get('/secrets?format=dotenv', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(parse(dotenv.text)).toMatchObject(RESOLVED);

    for (const [key, value] of Object.entries(RESOLVED)) {
      const one = await t.get(`/secrets/${key}`, t.tokens.classicProd, { masterKey: t.masterKey });
      expect(one.json.value, key).toBe(value);
    }
    // The root pulls the same template with its own DB_USER.
    const rootToken = (await t.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, OWNER))
      .token;
    const root = await t.get('/secrets/URL', rootToken, { masterKey: t.masterKey });
    expect(root.json.value).toBe('postgres://root-user@db-prod.internal/app');
  });

  it('should keep the value as written for the editor and secret get --raw', async () => {
    const scope = { project: 'acme-web', environment: 'prod', key: 'STAGING_URL' };
    expect((await t.ctx.secrets.get(scope, access, { raw: true })).value).toBe('${staging.URL}');
    expect((await t.ctx.secrets.get(scope, access)).value).toBe(RESOLVED.STAGING_URL);
    const revealed = await t.ctx.secrets.reveal({ project: 'acme-web', environment: 'prod' }, access, OWNER);
    expect(revealed.get('PRICE')!.value).toBe('costs $${AMOUNT}, $5 and ${DB_USER}$');
  });

  it('should resolve within its own scope on a keyed pull, and refuse a reference beyond it by name', async () => {
    // The keyed token opens prod only: the cross-environment reference is refused, whole and by name.
    const all = await t.get('/secrets', t.tokens.keyedProd);
    expect(all.status, all.text).toBe(422);
    expect(all.json.error.code).toBe('unresolvable_reference');
    expect(all.json.error.message).toMatch(
      /ROOT_HOST references \$\{acme\.prod\.DB_HOST\}|STAGING_URL references \$\{staging\.URL\}/,
    );
    expect(all.text).not.toContain('db-staging');

    // One key within the scope resolves; one reaching outside it is refused.
    const url = await t.get('/secrets/URL', t.tokens.keyedProd);
    expect(url.json.value).toBe(RESOLVED.URL);
    const price = await t.get('/secrets/PRICE', t.tokens.keyedProd);
    expect(price.json.value).toBe(RESOLVED.PRICE);
    const cross = await t.get('/secrets/STAGING_URL', t.tokens.keyedProd);
    expect(cross.status).toBe(422);
    expect(cross.json.error.message).toContain('STAGING_URL references ${staging.URL}');
    expect(cross.text).not.toContain('db-staging');

    // The zero-knowledge answer, opened as the CLI opens it, resolves to the same and refuses the same.
    const sealed = await t.get('/secrets?format=sealed', keyedParts(t.tokens.keyedProd).proof);
    const opened = openValues(sealed.text, t.tokens.keyedProd);
    expect(opened.values.URL).toBe('postgres://${DB_USER}@${DB_HOST}/app');
    await expect(resolveSealedReferences(opened)).rejects.toThrow(
      /references \$\{(staging\.URL|acme\.prod\.DB_HOST)\}/,
    );
    const withinScope = new Map(
      [...opened.secrets].filter(([key]) => key === 'URL' || key === 'PRICE' || key === 'DB_USER' || key === 'DB_HOST'),
    );
    const resolved = await resolveSealedReferences({ ...opened, secrets: withinScope });
    expect(resolved.get('URL')!.value).toBe(RESOLVED.URL);
    expect(resolved.get('PRICE')!.value).toBe(RESOLVED.PRICE);
  });

  it('should report a missing reference and a cycle by name, and serve nothing of that pull', async () => {
    const staging = (await t.ctx.tokens.create({ project: 'acme-web', environment: 'staging', access: 'read' }, OWNER))
      .token;
    await write('acme-web', 'staging', 'BROKEN', 'x${NOPE}y');
    let res = await t.get('/secrets', staging, { masterKey: t.masterKey });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain('BROKEN references ${NOPE}, but NOPE does not exist in acme-web/staging');
    await t.ctx.secrets.remove({ project: 'acme-web', environment: 'staging', key: 'BROKEN' }, OWNER);

    await write('acme-web', 'staging', 'A', '${B}');
    await write('acme-web', 'staging', 'B', '-${prod.C}-');
    await write('acme-web', 'prod', 'C', '${staging.A}');
    res = await t.get('/secrets', staging, { masterKey: t.masterKey });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toBe('a reference cycle: A → B → acme-web.prod.C → A');
    for (const key of ['A', 'B'])
      await t.ctx.secrets.remove({ project: 'acme-web', environment: 'staging', key }, OWNER);
    await t.ctx.secrets.remove({ project: 'acme-web', environment: 'prod', key: 'C' }, OWNER);
    expect((await t.get('/secrets', staging, { masterKey: t.masterKey })).status).toBe(200);
  });

  it('should refuse a malformed reference at write time, changing nothing', async () => {
    for (const bad of ['${', 'a ${b c}', '${a.b.c.D}', '${Prod.KEY}', '${1KEY}']) {
      await expect(write('acme-web', 'prod', 'BAD', bad)).rejects.toThrow(/the value of BAD has a malformed reference/);
    }
    await expect(t.ctx.secrets.get({ project: 'acme-web', environment: 'prod', key: 'BAD' }, access)).rejects.toThrow(
      /not found/,
    );
  });

  it('should not let a write token copy a value from beyond its scope through a reference', async () => {
    // The attack: write `${acme.prod.DB_HOST}` or `${staging.URL}` into its own scope, then pull it.
    const writer = (
      await t.ctx.tokens.create({ project: 'acme-web', environment: 'prod', access: 'read_write' }, OWNER)
    ).token;
    for (const reach of ['${staging.URL}', '${acme.prod.DB_HOST}', '${other.prod.OTHER}']) {
      const res = await t.get('/secrets/STOLEN', writer, {
        masterKey: t.masterKey,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(404);
      const put = await fetch(`${t.server.url}/api/v1/secrets/STOLEN`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${writer}`, 'x-master-key': t.masterKey, 'content-type': 'application/json' },
        body: JSON.stringify({ value: reach }),
      });
      const body = (await put.json()) as { error: { code: string; message: string } };
      expect(put.status, reach).toBe(400);
      expect(body.error.message).toContain(`references ${reach}: a value written with a service token`);
    }
    // Within its scope a token's reference works.
    const put = await fetch(`${t.server.url}/api/v1/secrets/MINE`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${writer}`, 'x-master-key': t.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'user=${DB_USER}' }),
    });
    expect(put.status).toBe(200);
    expect((await t.get('/secrets/MINE', writer, { masterKey: t.masterKey })).json.value).toBe('user=web');

    // A token's template held by a parent is pulled by a child: it still reaches only the pulled scope.
    const rootWriter = (
      await t.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, OWNER)
    ).token;
    await fetch(`${t.server.url}/api/v1/secrets/FROM_TOKEN`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${rootWriter}`,
        'x-master-key': t.masterKey,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ value: 'prod.${DB_USER}' }),
    });
    expect((await t.get('/secrets/FROM_TOKEN', t.tokens.classicProd, { masterKey: t.masterKey })).json.value).toBe(
      'prod.web',
    );
  });

  it('should leave a value stored before references existed exactly as it was', async () => {
    // A 0.1 version: the bare string, no template marker. Written here as that release wrote it.
    const root = await t.ctx.projects.byName('acme');
    const env = await t.ctx.environments.byName('prod');
    const secretId = randomUUID();
    await t.ctx.keys.withDataKey(root, access, async (dataKey) => {
      await t.ctx.database.db
        .insertInto('secrets')
        .values({ id: secretId, project_id: root.id, environment_id: env.id, key: 'LEGACY', current_version: 1 })
        .execute();
      await t.ctx.database.db
        .insertInto('secret_versions')
        .values({
          secret_id: secretId,
          version: 1,
          ciphertext: encryptValue(dataKey.valueKey(env.id), 'echo ${HOME} $${x}', {
            rootId: root.id,
            projectId: root.id,
            environmentId: env.id,
            key: 'LEGACY',
            version: 1,
          }),
          kind: 'set',
          created_at: new Date().toISOString(),
          created_by: 'cli:old',
        })
        .execute();
      await t.ctx.keys.bumpRevision(t.ctx.database.db, root.id, dataKey);
    });
    const pulled = await t.get('/secrets/LEGACY', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(pulled.json.value).toBe('echo ${HOME} $${x}');
    // Rolled back to, it stays the literal it was.
    await write('acme', 'prod', 'LEGACY', 'new');
    await t.ctx.secrets.rollback({ project: 'acme', environment: 'prod', key: 'LEGACY', version: 1 }, access, OWNER);
    const back = await t.get('/secrets/LEGACY', t.tokens.classicProd, { masterKey: t.masterKey });
    expect(back.json.value).toBe('echo ${HOME} $${x}');
  });
});
