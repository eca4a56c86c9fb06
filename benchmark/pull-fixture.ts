import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { parseKeyedToken, tokenProof } from '../src/crypto/scoped-keys.js';
import { createContext } from '../src/main.js';
import { openSealedPull } from '../src/secrets/sealed-pull.js';
import { DIST_BENCH } from './processes.js';

const actor = { name: 'bench' };

/** The three ways a client pulls the same scope, as the requests autocannon and fetch send. */
export type PullPath = 'classic' | 'keyed' | 'sealed';

export interface PullRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
}

export interface PullFixture {
  readonly dataDir: string;
  /** The PostgreSQL database it lives in, when seeded there (else SQLite in dataDir). */
  readonly databaseUrl?: string;
  readonly requests: Readonly<Record<PullPath, PullRequest>>;
  /** The keyed token's id and wrapping key: what a client opens a sealed answer with. */
  readonly keyed: { readonly id: string; readonly wrappingKey: Uint8Array };
  /** Removes the data directory. */
  remove(): void;
}

export const PULL_LABELS: Readonly<Record<PullPath, string>> = {
  classic: 'classic token + X-Master-Key',
  keyed: 'keyed token alone',
  sealed: 'token proof, format=sealed',
};

/**
 * The data every pull scenario serves: 50 keys resolved through root → child → grandchild (40 in
 * acme, 15 in acme-api, 10 in acme-api-eu, overlapping), in prod, written through the services.
 * Then three credentials for acme-api-eu/prod: a classic read token (pulled with X-Master-Key), a
 * keyed read token (pulled alone), and that keyed token's proof (the sealed pull). With
 * `databaseUrl`, the same data goes into that (empty) PostgreSQL database instead of SQLite.
 */
export async function seedPullFixture(prefix: string, options: { databaseUrl?: string } = {}): Promise<PullFixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const { databaseUrl } = options;
  const ctx = await createContext(
    loadConfig({ DATA_DIR: dataDir, ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }) }),
  );
  let keyedToken: string;
  let classicToken: string;
  let masterKey: string;
  try {
    masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'acme-api', parent: 'acme' }, actor);
    await ctx.projects.create({ name: 'acme-api-eu', parent: 'acme-api' }, actor);
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    const write = (project: string, from: number, to: number) =>
      Promise.all(
        Array.from({ length: to - from }, (_, i) =>
          ctx.secrets.set(
            {
              project,
              environment: 'prod',
              key: `KEY_${from + i}`,
              value: `${project}-value-${from + i}-`.padEnd(40, 'x'),
            },
            access(),
            actor,
          ),
        ),
      );
    await write('acme', 0, 40);
    await write('acme-api', 30, 45);
    await write('acme-api-eu', 40, 50);
    const scope = { project: 'acme-api-eu', environment: 'prod', access: 'read' } as const;
    classicToken = (await ctx.tokens.create(scope, actor)).token;
    keyedToken = (await ctx.tokens.create({ ...scope, keyed: access() }, actor)).token;
  } finally {
    await ctx.close();
  }
  const parsed = parseKeyedToken(keyedToken)!;
  const proof = tokenProof(parsed.id, parsed.authKey);
  parsed.authKey.fill(0);
  return {
    dataDir,
    ...(databaseUrl !== undefined && { databaseUrl }),
    requests: {
      classic: {
        path: '/api/v1/secrets',
        headers: { authorization: `Bearer ${classicToken}`, 'x-master-key': masterKey },
      },
      keyed: { path: '/api/v1/secrets', headers: { authorization: `Bearer ${keyedToken}` } },
      sealed: { path: '/api/v1/secrets?format=sealed', headers: { authorization: `Bearer ${proof}` } },
    },
    keyed: { id: parsed.id, wrappingKey: parsed.wrappingKey },
    remove: () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}

/**
 * seedPullFixture in a process of its own (dist/benchmark/seed-worker.js). A process keeps the SQL
 * of its hot queries as first compiled (src/db/reusable-query.ts), for the first engine it used: a
 * bench process that seeded SQLite would send `?` placeholders to PostgreSQL. Seeding there keeps
 * this process on SQLite alone.
 */
export function seedPullFixtureApart(prefix: string, options: { databaseUrl?: string } = {}): Promise<PullFixture> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(DIST_BENCH, 'seed-worker.js'), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Keeps the wrapping key a Uint8Array on the way back.
      serialization: 'advanced',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('message', (message) => {
      const fixture = message as Omit<PullFixture, 'remove'>;
      resolve({ ...fixture, remove: () => fs.rmSync(fixture.dataDir, { recursive: true, force: true }) });
    });
    child.once('exit', (code) => reject(new Error(`seeding exited (${code}): ${stderr.slice(-500)}`)));
    child.send({ prefix, ...options });
  });
}

/**
 * The environment of a `secretsfly serve` over the fixture: any port, info logs, no API rate limit,
 * and its PostgreSQL database when it has one.
 */
export const serveEnv = (fixture: PullFixture): NodeJS.ProcessEnv => ({
  DATA_DIR: fixture.dataDir,
  ...(fixture.databaseUrl !== undefined && { DATABASE_URL: fixture.databaseUrl }),
  PORT: '0',
  LOG_LEVEL: 'info',
  API_RATE_LIMIT_PER_MINUTE: '0',
});

/**
 * One pull by each of `paths`, checked before anything is timed: each answers 200 with the same 50
 * values (the sealed one opened as a client would, with the token's wrapping key). Returns the
 * classic body when `paths` has it (the JSON bare Express serves in api-pull).
 */
export async function checkPulls(url: string, fixture: PullFixture, paths: readonly PullPath[]): Promise<string> {
  const values: Partial<Record<PullPath, Record<string, string>>> = {};
  let classicBody = '';
  for (const name of paths) {
    const request = fixture.requests[name];
    const response = await fetch(`${url}${request.path}`, { headers: request.headers });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`setup pull (${name}) failed: ${response.status} ${body}`);
    if (name === 'sealed') {
      const opened = openSealedPull(body, fixture.keyed, undefined);
      values[name] = Object.fromEntries([...opened.secrets].map(([key, secret]) => [key, secret.value]));
    } else {
      values[name] = (JSON.parse(body) as { secrets: Record<string, string> }).secrets;
      if (name === 'classic') classicBody = body;
    }
  }
  const [first, ...rest] = paths.map((name) => JSON.stringify(Object.entries(values[name]!).sort()));
  if (Object.keys(values[paths[0]!]!).length !== 50 || rest.some((other) => other !== first)) {
    throw new Error(
      `setup pulls disagree: ${paths.map((name) => `${name} ${Object.keys(values[name]!).length} keys`)}`,
    );
  }
  return classicBody;
}
