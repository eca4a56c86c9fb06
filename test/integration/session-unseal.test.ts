import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor, snapshotDatabase } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('an unseal belongs to the admin session that made it', () => {
  let server: TestServer;
  let masterKey: string;
  let rootId: string;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.users.create('alice', password, actor);
    await server.ctx.users.create('mallory', password, actor);
    const created = await server.ctx.projects.create({ name: 'acme' }, actor);
    masterKey = created.masterKey!;
    rootId = created.project.id;
    await server.ctx.secrets.set(
      { project: 'acme', environment: 'prod', key: 'DB_PASSWORD', value: 'hunter2-in-prod' },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
  });
  afterAll(() => server.close());

  async function unsealedAlice(): Promise<FormClient> {
    const alice = new FormClient(server.url);
    await alice.login('alice', password);
    await alice.get('/projects/acme/envs/prod');
    expect((await alice.post('/projects/acme/unseal', { masterKey, back: '/' })).status).toBe(303);
    expect((await alice.get('/')).text).toContain('Unsealed');
    return alice;
  }

  /** Everything a signed-in session could do with an unsealed root, tried by `other`: all refused as sealed. */
  async function expectSealedFor(other: FormClient) {
    const before = await snapshotDatabase(server.dataDir);
    expect((await other.get('/')).text).not.toContain('Unsealed');
    const page = await other.get('/projects/acme/envs/prod');
    expect(page.text).toContain('badge-sealed');
    const reveal = await other.get('/projects/acme/envs/prod/reveal');
    expect(reveal.status).toBe(423);
    expect(reveal.text).not.toContain('hunter2-in-prod');
    await other.get('/projects/acme/envs/prod');
    const write = await other.post('/projects/acme/envs/prod/secrets', { key: 'DB_PASSWORD', value: 'pwned' });
    expect(write.status).toBe(303);
    expect((await other.get(write.location!)).text).toContain('sealed');
    await other.get('/projects/acme/envs/prod/secrets/DB_PASSWORD/history');
    await other.post('/projects/acme/envs/prod/secrets/DB_PASSWORD/rollback', { version: '1' });
    expect((await snapshotDatabase(server.dataDir)).secret_versions).toEqual(before.secret_versions);
  }

  it("should show another admin's session the root sealed, and refuse it the values", async () => {
    await unsealedAlice();
    const mallory = new FormClient(server.url);
    await mallory.login('mallory', password);
    await expectSealedFor(mallory);
  });

  it('should not hand an unseal to a new session of the same admin', async () => {
    await unsealedAlice();
    const secondBrowser = new FormClient(server.url);
    await secondBrowser.login('alice', password);
    await expectSealedFor(secondBrowser);
  });

  it("should wipe a session's unseals when it signs out, and record the sign-out", async () => {
    server.ctx.keystore.sealAll();
    const alice = await unsealedAlice();
    expect(server.ctx.keystore.isUnsealed(rootId)).toBe(true);
    await alice.get('/');
    const out = await alice.post('/logout', {});
    expect([out.status, out.location]).toEqual([303, '/login']);
    expect(server.ctx.keystore.isUnsealed(rootId)).toBe(false);
    await server.ctx.audit.flush();
    const [last] = await server.ctx.audit.list({ action: 'logout', limit: 1 });
    expect(last?.actor).toBe('user:alice');
  });

  it('should keep each session its own time left', async () => {
    const alice = await unsealedAlice();
    const bob = new FormClient(server.url);
    await bob.login('mallory', password);
    expect((await bob.get('/')).text).toContain('badge-sealed');
    expect((await alice.get('/')).text).toMatch(/Unsealed · \d+ min left/);
  });
});
