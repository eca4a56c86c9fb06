import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { FormClient } from '../helpers/form-client.js';
import { queryPostgres } from '../helpers/postgres.js';
import { succeeded } from '../helpers/test-context.js';

/**
 * An admin's unseal lives in one instance's memory only (http/instances.ts). Behind a round-robin
 * balancer, their next pages must still find it: the other instances hand the request over to the
 * holder (INSTANCE_URL), or on Fly ask Fly's proxy to replay it there (fly-replay).
 */
const PASSWORD = 'correct horse battery staple';

describe('admin pages follow the unseal across instances', () => {
  let cluster: Cluster;
  let masterKey: string;

  beforeAll(async () => {
    cluster = await startCluster({}, 3, {
      instanceUrls: true,
      // The third says it is a Fly machine: the others answer with fly-replay for it.
      perInstance: (i): Record<string, string> => (i === 2 ? { FLY_MACHINE_ID: 'e784079b449483' } : {}),
    });
    masterKey = succeeded(await cluster.cli(['project', 'create', 'acme']))
      .stdout.trim()
      .split('\n')
      .at(-1)!;
    succeeded(
      await cluster.cli(['secret', 'set', 'acme', 'prod', 'API_KEY'], {
        input: 'sk_live_follow',
        env: { SECRETSFLY_MASTER_KEY: masterKey },
      }),
    );
    succeeded(await cluster.cli(['user', 'create', 'admin'], { env: { SECRETSFLY_PASSWORD: PASSWORD } }));
  });
  afterAll(() => cluster?.stop());

  const signedIn = async (index: number) => {
    const admin = new FormClient(cluster.instances[index]!.url);
    await admin.login('admin', PASSWORD);
    return admin;
  };
  const onInstance = (admin: FormClient, index: number) => {
    const other = new FormClient(cluster.instances[index]!.url);
    other.cookies = admin.cookies;
    return other;
  };
  const reveal = (client: FormClient) => client.get('/projects/acme/envs/prod/reveal');

  it('should serve the unsealed project from whichever instance the balancer picks, naming the holder', async () => {
    const admin = await signedIn(0);
    await admin.get('/projects/acme/envs/prod');
    const unsealed = await admin.post('/projects/acme/unseal', { masterKey, back: '/' });
    expect(unsealed.status, unsealed.text).toBe(303);

    for (const index of [1, 0, 1]) {
      const page = await onInstance(admin, index).get('/projects/acme/envs/prod');
      expect(page.status, `instance i${index + 1}`).toBe(200);
      // Whoever received it, i1 answered: it holds the key, and says so.
      expect(page.text).toContain('Instance i1');
      expect(page.text).toContain('held by instance <strong>i1</strong> only');
    }
    // The values open through i2 as well: i1 decrypts them, i2 only passes the page on.
    const values = await reveal(onInstance(admin, 1));
    expect(values.status).toBe(200);
    expect(values.text).toContain('sk_live_follow');
    // A form posted to another instance reaches the holder with its body: sealing works from i2.
    const elsewhere = onInstance(admin, 1);
    await elsewhere.get('/projects/acme/envs/prod');
    const sealed = await elsewhere.post('/projects/acme/seal', { back: '/' });
    expect(sealed.status, sealed.text).toBe(303);
    const after = await onInstance(admin, 0).get('/projects/acme/envs/prod');
    expect(after.text).not.toContain('held by instance');
  });

  it('should keep the key in the holding instance only: not in the database, not on another instance', async () => {
    const admin = await signedIn(1);
    await admin.get('/projects/acme/envs/prod');
    expect((await admin.post('/projects/acme/unseal', { masterKey, back: '/' })).status).toBe(303);
    // The value opens through i1 only because i1 hands the request to i2, which holds the key.
    const page = await onInstance(admin, 0).get('/projects/acme/envs/prod');
    expect(page.text).toContain('Instance i2');
    // The other instances never hold it: a request that refuses to be handed over finds it sealed.
    const direct = await onInstance(admin, 0).get('/projects/acme/envs/prod', { 'x-secretsfly-forwarded-by': 'test' });
    expect(direct.text).toContain('Instance i1');
    expect(direct.text).not.toContain('held by instance');
    // Nothing the instances share holds the master key, sessions included.
    const tables = await queryPostgres(
      cluster.databaseUrl,
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    for (const { table_name } of tables) {
      const [dump] = await queryPostgres(
        cluster.databaseUrl,
        `select string_agg(t::text, '') as text from "${table_name}" t`,
      );
      expect(dump.text ?? '', table_name).not.toContain(masterKey);
    }
  });

  it('should ask Fly to replay the request on the machine holding the unseal', async () => {
    const admin = await signedIn(2);
    await admin.get('/projects/acme/envs/prod');
    expect((await admin.post('/projects/acme/unseal', { masterKey, back: '/' })).status).toBe(303);
    const replay = await onInstance(admin, 0).get('/projects/acme/envs/prod');
    expect(replay.headers.get('fly-replay')).toBe('instance=e784079b449483');
  });

  it('should let the admin carry on, sealed, when the instance holding the unseal is gone', async () => {
    const admin = await signedIn(0);
    await admin.get('/projects/acme/envs/prod');
    expect((await admin.post('/projects/acme/unseal', { masterKey, back: '/' })).status).toBe(303);
    await cluster.kill(0);
    // The key died with i1: i2 serves the page itself, sealed, and asks for the master key again.
    const page = await onInstance(admin, 1).get('/projects/acme/envs/prod');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Instance i2');
    expect(page.text).toContain('Master key of acme');
    expect(page.text).not.toContain('held by instance');
  });
});
