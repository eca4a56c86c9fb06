import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSealedReferences } from '../../src/secrets/sealed-pull.js';
import { REFERENCE_LIMITS } from '../../src/secrets/references.js';
import { bytesOf, keyedParts, openValues, type ScopedTree, startScopedTree } from '../helpers/scoped-tree.js';
import { call } from '../helpers/test-server.js';

/**
 * Attacks on this round's code (references, typed secrets, host-held secrets, the access log, the
 * UI), each kept as the test that showed it, with what must hold now.
 */

const OWNER = { name: 'user:owner' };

describe('attack round 3', () => {
  let t: ScopedTree;
  let fresh = 0;

  beforeAll(async () => {
    t = await startScopedTree();
  });
  afterAll(async () => {
    await t?.server.close();
  });

  /** A new child of acme with a keyed read_write token for its prod: nothing else shares it. */
  async function scopeWithWriter() {
    const project = `victim-${++fresh}`;
    await t.ctx.projects.create({ name: project, parent: 'acme' }, OWNER);
    const token = (
      await t.ctx.tokens.create(
        { project, environment: 'prod', access: 'read_write', keyed: { masterKey: bytesOf(t.masterKey) } },
        OWNER,
      )
    ).token;
    const put = async (key: string, value: string) => {
      const res = await call(t.server, `/api/v1/secrets/${key}`, { method: 'PUT', token, body: { value } });
      expect(res.status, res.text).toBe(200);
    };
    return { project, token, put };
  }

  describe('references: bounded resolution work', () => {
    it('should not let two writes of a token amplify into a pull of tens of megabytes', async () => {
      // The attack: 60 KB of text, then one value of 1,000 references to it: a 60 MB answer, held in
      // the server's caches; 8,000 references (40 KB) make it 480 MB, and the server falls over.
      const { token, put } = await scopeWithWriter();
      await put('L0', 'x'.repeat(60_000));
      await put('L1', '${L0}'.repeat(1_000));

      for (const pulled of [
        await call(t.server, '/api/v1/secrets', { token }),
        await call(t.server, '/api/v1/secrets?format=dotenv', { token }),
        await call(t.server, '/api/v1/secrets/L1', { token }),
        await call(t.server, '/api/v1/secrets', { token, masterKey: t.masterKey }),
      ]) {
        expect(pulled.status).toBe(422);
        expect(pulled.json.error.code).toBe('unresolvable_reference');
        expect(pulled.json.error.message).toContain(
          `L1 resolves to more than ${REFERENCE_LIMITS.valueChars} characters`,
        );
        expect(pulled.text.length).toBeLessThan(1_000);
      }

      // The zero-knowledge client resolves with the same bounds.
      const sealed = await call(t.server, '/api/v1/secrets?format=sealed', { token: keyedParts(token).proof });
      expect(sealed.status).toBe(200);
      await expect(resolveSealedReferences(openValues(sealed.text, token))).rejects.toThrow(/resolves to more than/);
    });

    it('should bound what all the templates of a scope produce together', async () => {
      // Each value under the per-value bound, but together far past what a pull should build.
      const { token, put } = await scopeWithWriter();
      await put('L0', 'y'.repeat(60_000));
      const refs = Math.floor(REFERENCE_LIMITS.valueChars / 60_000);
      const copies = Math.ceil(REFERENCE_LIMITS.totalChars / (refs * 60_000)) + 1;
      for (let i = 0; i < copies; i++) await put(`C${i}`, '${L0}'.repeat(refs));
      const pulled = await call(t.server, '/api/v1/secrets', { token });
      expect(pulled.status).toBe(422);
      expect(pulled.json.error.message).toContain(`resolve to more than ${REFERENCE_LIMITS.totalChars} characters`);
    });

    it('should refuse references nested deeper than the limit, and keep a chain within it working', async () => {
      // A chain of thousands of keys each naming the next took seconds per pull (quadratic).
      const { token, put } = await scopeWithWriter();
      const depth = REFERENCE_LIMITS.depth;
      await put(`K${depth}`, 'end');
      for (let i = depth - 1; i >= 0; i--) await put(`K${i}`, `\${K${i + 1}}`);
      const ok = await call(t.server, '/api/v1/secrets/K0', { token });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json.value).toBe('end');

      await put('DEEPER', '${K0}');
      const deep = await call(t.server, '/api/v1/secrets/DEEPER', { token });
      expect(deep.status).toBe(422);
      expect(deep.json.error.message).toContain(`nests references more than ${depth} deep`);
    });

    it('should refuse a whole pull holding a chain of 2,000 keys, naming the depth limit', async () => {
      const { project } = await scopeWithWriter();
      const lines = ['C1999=x'];
      for (let i = 0; i < 1_999; i++) lines.push(`C${i}=\${C${i + 1}}`);
      await t.ctx.secrets.importDotenv(
        { project, environment: 'staging', content: lines.join('\n') },
        { masterKey: bytesOf(t.masterKey) },
        { name: 'token:attacker' },
      );
      const reader = (await t.ctx.tokens.create({ project, environment: 'staging', access: 'read' }, OWNER)).token;
      // The depth limit bounds each key's work (speed is the bench's business, not a test's): the
      // pull is refused whole, naming why, never answered with some keys resolved and others not.
      const pulled = await call(t.server, '/api/v1/secrets', { token: reader, masterKey: t.masterKey });
      expect([pulled.status, pulled.json.error.code]).toEqual([422, 'unresolvable_reference']);
      expect(pulled.json.error.message).toContain(`nests references more than ${REFERENCE_LIMITS.depth} deep`);
      expect(pulled.text).not.toContain('"secrets"');
    });
  });

  describe('access log', () => {
    const entries = (project: string, environment: string, key: string) =>
      t.ctx.accessLog.list({ project, environment, key });

    it("should list the admin who saw a key's value on its page, and values shown by a bulk preview", async () => {
      // The attack: an admin reads a key on its page (value and every version) or pastes a block
      // into the bulk edit to see each key's current value, and the key's access log never says so.
      const access = { masterKey: bytesOf(t.masterKey) };
      const spy = { name: 'user:spy' };
      const revealed = await t.ctx.secrets.revealKey(
        { project: 'acme-web', environment: 'prod', key: 'API_KEY' },
        access,
        spy,
      );
      expect(revealed.current?.value).toBe('pl41n-prod-web-api-key');
      const snoop = { name: 'user:snoop' };
      const preview = await t.ctx.secrets.previewDotenv(
        { project: 'acme-web', environment: 'staging', content: 'API_KEY=guess\nNEW_ONE=1' },
        access,
        snoop,
      );
      expect(preview.rows[0]!.before).toBe('pl41n-staging-web-api-key');
      await t.ctx.audit.flush();
      expect(await entries('acme-web', 'prod', 'API_KEY')).toContainEqual(
        expect.objectContaining({ actor: 'user:spy', via: 'ui_reveal', count: 1 }),
      );
      expect(await entries('acme-web', 'staging', 'API_KEY')).toContainEqual(
        expect.objectContaining({ actor: 'user:snoop', via: 'ui_reveal', count: 1 }),
      );
      // An inherited key shown on a child's key page is the ancestor's value: logged under it.
      await t.ctx.secrets.revealKey({ project: 'acme-web', environment: 'prod', key: 'DB_URL' }, access, spy);
      await t.ctx.audit.flush();
      expect(await entries('acme', 'prod', 'DB_URL')).toContainEqual(
        expect.objectContaining({ actor: 'user:spy', via: 'ui_reveal' }),
      );
    });
  });
});
