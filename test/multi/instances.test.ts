import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { FormClient } from '../helpers/form-client.js';
import { queryPostgres } from '../helpers/postgres.js';
import { ROOT, succeeded } from '../helpers/test-context.js';
import { type ApiCall, call } from '../helpers/test-server.js';

const shareCrypto = () =>
  import(pathToFileURL(path.join(ROOT, 'static/share-crypto.js')).href) as Promise<{
    encryptShare(text: string): Promise<{ ciphertext: string; key: string }>;
  }>;

/** Runs `count` tasks, at most `concurrency` at a time; results in task order. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/**
 * Three `secretsfly serve` processes on one PostgreSQL database, as behind a load balancer: what a
 * user of any one of them sees must not depend on which one answers.
 */
describe('several instances on one PostgreSQL database', () => {
  let cluster: Cluster;
  const api = (base: string, route: string, options: ApiCall = {}) => call({ url: base }, `/api/v1${route}`, options);
  const urls = () => cluster.instances.map((instance) => instance.url);

  async function createRoot(name: string): Promise<string> {
    return JSON.parse(succeeded(await cluster.cli(['project', 'create', name, '--json'])).stdout).master_key;
  }
  async function createToken(
    project: string,
    masterKey: string,
    flags: string[] = [],
  ): Promise<{ id: string; token: string }> {
    const created = succeeded(
      await cluster.cli(['token', 'create', project, 'prod', ...flags, '--json'], {
        env: { SECRETSFLY_MASTER_KEY: masterKey },
      }),
    );
    return JSON.parse(created.stdout);
  }
  async function expectAuditIntact() {
    const verified = await cluster.cli(['audit', '--verify']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('audit log intact');
  }

  let masterKey: string;
  let writer: { id: string; token: string };

  beforeAll(async () => {
    // All three start at the same moment on an empty database: each runs the migrations at start-up.
    cluster = await startCluster();
    masterKey = await createRoot('app');
    writer = await createToken('app', masterKey, ['--write']);
  });
  afterAll(() => cluster?.stop());

  it('should migrate an empty database exactly once when the instances boot at the same moment', async () => {
    const rows = await queryPostgres(cluster.databaseUrl, 'select name from kysely_migration order by name');
    expect(rows.map((row) => row.name)).toEqual(Object.keys(migrations).sort());
    for (const instance of cluster.instances) {
      expect(instance.output(), instance.name).toContain('listening url=');
      expect(instance.output(), instance.name).not.toMatch(/\b(error|warn|unexpected|failed)\b/i);
    }
  });

  it('should show a write through one instance to the very next request on the others', async () => {
    for (let n = 0; n < 6; n++) {
      const [through, ...others] = [...urls().slice(n % 3), ...urls().slice(0, n % 3)];
      const put = await api(through!, '/secrets/SEEN', {
        method: 'PUT',
        token: writer.token,
        body: { value: `v${n}` },
      });
      expect(put.status, put.text).toBe(200);
      expect(put.json).toEqual({ key: 'SEEN', version: n + 1 });
      for (const other of others) {
        const got = await api(other, '/secrets/SEEN', { token: writer.token });
        expect([got.status, got.json?.value, got.json?.version], other).toEqual([200, `v${n}`, n + 1]);
      }
    }
    // A value written by the CLI straight into the database too, on every instance's next pull.
    succeeded(
      await cluster.cli(['secret', 'set', 'app', 'prod', 'SEEN', 'from the cli'], {
        env: { SECRETSFLY_MASTER_KEY: masterKey },
      }),
    );
    for (const url of urls()) {
      const pulled = await api(url, '/secrets', { token: writer.token });
      expect([pulled.status, pulled.json?.secrets?.SEEN], url).toEqual([200, 'from the cli']);
    }
  });

  it('should refuse a revoked token on every instance from the very next request', async () => {
    const reader = await createToken('app', masterKey);
    // Each instance has just served it (and cached what it could).
    for (const url of urls()) expect((await api(url, '/secrets', { token: reader.token })).status, url).toBe(200);
    succeeded(await cluster.cli(['token', 'revoke', reader.id]));
    for (const url of urls()) {
      const refused = await api(url, '/secrets', { token: reader.token });
      expect([refused.status, refused.json?.error?.code], url).toEqual([401, 'invalid_token']);
    }
  });

  it('should follow a rotation with --reencrypt on every instance: keyed tokens refused, the new master key works', async () => {
    const oldKey = await createRoot('rotated');
    succeeded(
      await cluster.cli(['secret', 'set', 'rotated', 'prod', 'DB_PASSWORD', 'hunter2'], {
        env: { SECRETSFLY_MASTER_KEY: oldKey },
      }),
    );
    const keyed = await createToken('rotated', oldKey);
    const classic = await createToken('rotated', oldKey, ['--classic']);
    for (const url of urls()) {
      expect((await api(url, '/secrets', { token: keyed.token })).json?.secrets, url).toEqual({
        DB_PASSWORD: 'hunter2',
      });
      const pulled = await api(url, '/secrets', { token: classic.token, masterKey: oldKey });
      expect(pulled.json?.secrets, url).toEqual({ DB_PASSWORD: 'hunter2' });
    }

    const rotated = JSON.parse(
      succeeded(
        await cluster.cli(['rotate', 'rotated', '--reencrypt', '--json'], { env: { SECRETSFLY_MASTER_KEY: oldKey } }),
      ).stdout,
    );
    expect(rotated.revoked_tokens).toEqual([keyed.id]);
    const newKey: string = rotated.master_key;

    for (const url of urls()) {
      const refused = await api(url, '/secrets', { token: keyed.token });
      expect([refused.status, refused.json?.error?.code], url).toEqual([401, 'invalid_token']);
      const pulled = await api(url, '/secrets', { token: classic.token, masterKey: newKey });
      expect([pulled.status, pulled.json?.secrets], url).toEqual([200, { DB_PASSWORD: 'hunter2' }]);
      const old = await api(url, '/secrets', { token: classic.token, masterKey: oldKey });
      expect([old.status, old.json?.error?.code], url).toEqual([401, 'invalid_master_key']);
    }
  });

  it('should let exactly one of the same compare-and-set sent to all three instances at once win', async () => {
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      const answers = await Promise.all(
        urls().map((url, i) =>
          api(url, '/secrets/CAS', {
            method: 'PUT',
            token: writer.token,
            body: { value: `round ${round} from i${i + 1}`, cas: round },
          }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort(), answers.map((answer) => answer.text).join('\n')).toEqual([
        200, 409, 409,
      ]);
      for (const answer of answers) {
        if (answer.status === 200) expect(answer.json).toEqual({ key: 'CAS', version: round + 1 });
        else expect(answer.json.error.code).toBe('version_conflict');
      }
    }
    for (const url of urls()) {
      const got = await api(url, '/secrets/CAS', { token: writer.token });
      expect([got.status, got.json?.version], url).toEqual([200, rounds]);
    }
  });

  it('should keep the audit log one intact chain after a burst of writes and pulls through all three', async () => {
    const answers = await pool(300, 30, (i) =>
      i % 3 === 0
        ? api(cluster.url, `/secrets/BURST_${i % 20}`, {
            method: 'PUT',
            token: writer.token,
            body: { value: `burst ${i}` },
          })
        : api(cluster.url, '/secrets', { token: writer.token }),
    );
    expect(
      answers.filter((answer) => answer.status !== 200).map((answer) => `${answer.status} ${answer.text}`),
    ).toEqual([]);
    await expectAuditIntact();
  });

  it('should give a one-time share to exactly one of three instances revealing it at once', async () => {
    const { encryptShare } = await shareCrypto();
    for (let round = 0; round < 5; round++) {
      const { ciphertext } = await encryptShare(`one time ${round}`);
      const created = await call({ url: cluster.url }, '/api/v1/shares', {
        method: 'POST',
        token: writer.token,
        body: { ciphertext, ttl: '1h' },
      });
      expect(created.status, created.text).toBe(201);
      const reveals = await Promise.all(
        urls().map((url) => call({ url }, `/api/v1/shares/${created.json.id}/reveal`, { method: 'POST' })),
      );
      expect(reveals.map((reveal) => reveal.status).sort()).toEqual([200, 410, 410]);
      expect(reveals.find((reveal) => reveal.status === 200)!.json).toEqual({ ciphertext });
      for (const reveal of reveals.filter((r) => r.status === 410)) expect(reveal.json.error.code).toBe('gone');
    }
  });

  it('should keep an admin signed in through one instance signed in on the others', async () => {
    const password = 'correct horse battery staple';
    succeeded(await cluster.cli(['user', 'create', 'admin'], { env: { SECRETSFLY_PASSWORD: password } }));
    const admin = new FormClient(cluster.instances[0]!.url);
    await admin.login('admin', password);
    const cookie = [...admin.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    for (const instance of cluster.instances) {
      const home = await fetch(`${instance.url}/`, { headers: { cookie }, redirect: 'manual' });
      const text = await home.text();
      expect([home.status, home.headers.get('location')], instance.name).toEqual([200, null]);
      expect(text, instance.name).toContain('Sign out');
    }
  });

  // Last: it leaves two instances.
  it('should lose no acknowledged write when an instance is killed -9 in the middle of a burst', async () => {
    let done = 0;
    let killed: Promise<void> | undefined;
    const answers = await pool(200, 10, async (i) => {
      const answer = await api(cluster.url, `/secrets/KILL_${i}`, {
        method: 'PUT',
        token: writer.token,
        body: { value: `value ${i}` },
      });
      if (++done === 60) killed = cluster.kill(2);
      return answer;
    });
    await killed;
    expect(cluster.instances[2]!.alive).toBe(false);
    const acknowledged = answers.flatMap((answer, i) => (answer.status >= 200 && answer.status < 300 ? [i] : []));
    // Most got through (the two survivors took every request after the kill).
    expect(acknowledged.length).toBeGreaterThan(150);
    for (const url of urls().slice(0, 2)) {
      const pulled = await api(url, '/secrets', { token: writer.token });
      expect(pulled.status, pulled.text).toBe(200);
      const lost = acknowledged.filter((i) => pulled.json.secrets[`KILL_${i}`] !== `value ${i}`);
      expect(lost, url).toEqual([]);
    }
    await expectAuditIntact();
  });
});
