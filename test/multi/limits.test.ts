import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { queryPostgres } from '../helpers/postgres.js';
import { FormClient } from '../helpers/form-client.js';
import { ROOT, succeeded } from '../helpers/test-context.js';
import { call } from '../helpers/test-server.js';

const shareCrypto = () =>
  import(pathToFileURL(path.join(ROOT, 'static/share-crypto.js')).href) as Promise<{
    encryptShare(text: string): Promise<{ ciphertext: string; key: string }>;
  }>;

const WRONG_MASTER_KEY = `sfmk_${'W'.repeat(43)}`;
const API_LIMIT = 20;
const SHARE_REVEALS = 5;
/** The defaults (CONTRACT §4, README "Configuration"). */
const MASTER_KEY_ATTEMPTS = 5;
const LOGIN_FAILURES = 5;

const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

/**
 * Every limit counts across the instances behind one load balancer: a client sent round-robin to
 * three instances gets the limit once, not three times. Each test comes from its own client address
 * (X-Forwarded-For, TRUST_PROXY), so their counts do not mix.
 */
describe('limits across several instances', () => {
  let cluster: Cluster;
  let masterKey: string;
  let classic: string;
  let keyed: string;

  beforeAll(async () => {
    cluster = await startCluster({
      TRUST_PROXY: 'true',
      API_RATE_LIMIT_PER_MINUTE: String(API_LIMIT),
      SHARE_REVEALS_PER_MINUTE: String(SHARE_REVEALS),
    });
    masterKey = JSON.parse(succeeded(await cluster.cli(['project', 'create', 'acme', '--json'])).stdout).master_key;
    const token = async (...flags: string[]) =>
      JSON.parse(
        succeeded(
          await cluster.cli(['token', 'create', 'acme', 'prod', ...flags, '--json'], {
            env: { SECRETSFLY_MASTER_KEY: masterKey },
          }),
        ).stdout,
      ).token as string;
    classic = await token('--classic');
    keyed = await token('--write');
  });
  afterAll(() => cluster?.stop());

  /** Sequential requests through the round-robin proxy; each answer's status. */
  async function statuses(count: number, send: (i: number) => Promise<{ status: number }>): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < count; i++) result.push((await send(i)).status);
    return result;
  }

  it('should accept MASTER_KEY_ATTEMPTS_PER_MINUTE wrong master keys per token across all instances, then 429', async () => {
    const from = { 'x-forwarded-for': '198.51.100.1' };
    const answers: { status: number; code?: string; retryAfter: string | null }[] = [];
    for (let i = 0; i < 18; i++) {
      const res = await call({ url: cluster.url }, '/api/v1/secrets', {
        token: classic,
        masterKey: WRONG_MASTER_KEY,
        headers: from,
      });
      answers.push({ status: res.status, code: res.json?.error?.code, retryAfter: res.headers.get('retry-after') });
    }
    expect(answers.map((a) => a.status)).toEqual([
      ...times(MASTER_KEY_ATTEMPTS, 401),
      ...times(18 - MASTER_KEY_ATTEMPTS, 429),
    ]);
    expect(answers.slice(0, MASTER_KEY_ATTEMPTS).map((a) => a.code)).toEqual(
      times(MASTER_KEY_ATTEMPTS, 'invalid_master_key'),
    );
    for (const refused of answers.slice(MASTER_KEY_ATTEMPTS)) {
      expect(refused.code).toBe('rate_limited');
      expect(refused.retryAfter).toMatch(/^\d+$/);
    }
  });

  it('should accept LOGIN_FAILURES_PER_MINUTE failed sign-ins per username across all instances, then 429', async () => {
    const password = 'correct horse battery staple';
    succeeded(await cluster.cli(['user', 'create', 'admin'], { env: { SECRETSFLY_PASSWORD: password } }));
    const from = { 'x-forwarded-for': '198.51.100.2' };
    const guesser = new FormClient(cluster.url);
    const answers = await statuses(LOGIN_FAILURES + 3, async (i) => {
      // The form from one instance, the guess to the next: the anonymous CSRF token holds across them.
      await guesser.get('/login', from);
      return guesser.post('/login', { username: 'admin', password: `wrong guess ${i}` }, { headers: from });
    });
    expect(answers).toEqual([...times(LOGIN_FAILURES, 401), ...times(3, 429)]);
  });

  it('should reveal SHARE_REVEALS_PER_MINUTE shares per client address across all instances, then 429', async () => {
    const { encryptShare } = await shareCrypto();
    const ids: string[] = [];
    for (let i = 0; i < SHARE_REVEALS + 3; i++) {
      const { ciphertext } = await encryptShare(`share ${i}`);
      const created = await call({ url: cluster.url }, '/api/v1/shares', {
        method: 'POST',
        token: keyed,
        body: { ciphertext, ttl: '1h' },
        headers: { 'x-forwarded-for': '198.51.100.9' },
      });
      expect(created.status, created.text).toBe(201);
      ids.push(created.json.id);
    }
    const from = { 'x-forwarded-for': '198.51.100.3' };
    const answers = await statuses(ids.length, (i) =>
      call({ url: cluster.url }, `/api/v1/shares/${ids[i]}/reveal`, { method: 'POST', headers: from }),
    );
    expect(answers).toEqual([...times(SHARE_REVEALS, 200), ...times(3, 429)]);
  });

  it('should serve API_RATE_LIMIT_PER_MINUTE API requests per client address across all instances, then 429', async () => {
    const from = { 'x-forwarded-for': '198.51.100.4' };
    const answers = await statuses(API_LIMIT + 6, () =>
      call({ url: cluster.url }, '/api/v1/secrets', { token: keyed, headers: from }),
    );
    expect(answers).toEqual([...times(API_LIMIT, 200), ...times(6, 429)]);
    // A flood past the limit costs no write per request: each instance remembers the refusal.
    await statuses(30, () => call({ url: cluster.url }, '/api/v1/secrets', { token: keyed, headers: from }));
    const [counted] = await queryPostgres(
      cluster.databaseUrl,
      "select hits from rate_limits where key like 'api:%100.4'",
    );
    expect(counted.hits).toBeLessThanOrEqual(API_LIMIT + 3);
  });
});
