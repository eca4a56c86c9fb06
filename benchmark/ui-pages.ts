/**
 * Server time per admin UI page on a large database: `npm run build && node dist/benchmark/ui-pages.js
 * [audit events] [views per page]` (defaults 1,000,000 and 20). Not part of `secretsfly bench`
 * (its scenario list is benchmark/run.ts); SQLite only.
 *
 * The database: a 10-deep project chain with 1,000 keys per project in prod, 3 versions each (the
 * bench's resolve-depth size, 30,000 versions), 150 more projects for the home tree, 200 tokens on
 * the deepest project, and the audit log of benchmark/audit-page.ts (written straight into SQLite
 * with a correct chain), spread over the last 90 days. A real server (startServer) answers over
 * loopback; the time of each request is taken inside it, from Node's `request` event to the
 * response's `finish` (diagnostics_channel), so the client's own work is not counted.
 */
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CHAIN_START, type ChainPoint, linkEvents, toUnchainedRow } from '../src/audit/audit-chain.js';
import type { AuditEvent } from '../src/audit/audit-types.js';
import { loadConfig } from '../src/config.js';
import { sqliteOf } from '../src/db/open.js';
import { startServer } from '../src/http/server.js';
import { createLogger } from '../src/logger.js';
import { seedChain } from './seed.js';
import { figure, round, timed } from './stats.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const VIEWS = Number(process.argv[3] ?? 20);
const PASSWORD = 'a long enough password';
const DAY = 86_400_000;
const CHAIN = Array.from({ length: 10 }, (_, i) => (i === 0 ? 'big' : `big-${i}`));
const LEAF = CHAIN.at(-1)!;

/** Server time of each request, by the request: filled by the diagnostics channels. */
const started = new WeakMap<IncomingMessage, bigint>();
let lastServerMs = 0;
diagnostics.subscribe('http.server.request.start', (message) => {
  started.set((message as { request: IncomingMessage }).request, process.hrtime.bigint());
});
diagnostics.subscribe('http.server.response.finish', (message) => {
  const at = started.get((message as { request: IncomingMessage }).request);
  if (at !== undefined) lastServerMs = Number(process.hrtime.bigint() - at) / 1e6;
});

function eventAt(i: number, total: number, projectIds: readonly string[], start: number): AuditEvent {
  const at = new Date(start + Math.floor((i / total) * 90 * DAY)).toISOString();
  const projectId = projectIds[i % projectIds.length]!;
  if (i % 10_000 === 0) return { actor: { name: 'user:alice', ip: '10.1.0.2' }, action: 'login', at };
  if (i % 10 === 0) {
    return {
      actor: { name: 'user:admin', ip: '10.1.0.1', userAgent: 'Mozilla/5.0' },
      action: 'secret_written',
      projectId,
      environment: 'prod',
      key: `KEY_${i % 1000}`,
      details: { version: 1 + Math.floor(i / 5000) },
      at,
    };
  }
  const token = `tok${(i % 40).toString(16).padStart(13, '0')}`;
  return {
    actor: { name: `token:${token}`, ip: `10.0.${(i >> 8) & 255}.${i & 255}`, userAgent: 'secretsfly-cli/0.1.0' },
    action: 'api_read',
    projectId,
    environment: 'prod',
    details: { token_id: token, format: 'json', keys: 50, count: 1 + (i % 7) },
    at,
  };
}

/** A browser's cookie jar, enough to sign in through the form and keep the session. */
function createClient(base: string) {
  const cookies = new Map<string, string>();
  const remember = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
  };
  const cookie = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  return {
    async get(url: string): Promise<{ status: number; bytes: number; text: string }> {
      const response = await fetch(base + url, { headers: { cookie: cookie() }, redirect: 'manual' });
      remember(response);
      const text = await response.text();
      return { status: response.status, bytes: Buffer.byteLength(text), text };
    },
    async signIn(username: string, password: string): Promise<void> {
      const form = await this.get('/login');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
      const response = await fetch(`${base}/login`, {
        method: 'POST',
        headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, username, password }),
        redirect: 'manual',
      });
      remember(response);
      if (response.status !== 303) throw new Error(`sign-in refused: ${response.status}`);
    },
  };
}

async function seed(server: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  const { ctx } = server;
  const actor = { name: 'bench' };
  await ctx.users.create('admin', PASSWORD, actor);
  const chain = await timed(() =>
    seedChain(ctx, { chain: CHAIN, environment: 'prod', keysPerProject: 1000, versionsPerKey: 3, valueBytes: 40 }),
  );
  console.log(
    `seeded ${chain.result.versions.toLocaleString('en-US')} secret versions in ${round(chain.ms / 1000, 1)} s`,
  );
  for (let r = 0; r < 30; r++) {
    await ctx.projects.create({ name: `team-${r}` }, actor);
    for (let c = 0; c < 4; c++) await ctx.projects.create({ name: `team-${r}-app-${c}`, parent: `team-${r}` }, actor);
  }
  for (let t = 0; t < 200; t++) {
    await ctx.tokens.create(
      {
        project: LEAF,
        environment: 'prod',
        access: t % 3 ? 'read' : 'read_write',
        name: `app-${t}`,
        ...(t % 4 === 0 && { expiresInSeconds: 7 * 86_400 }),
      },
      actor,
    );
  }
  await ctx.audit.flush();

  const projectIds = (await ctx.projects.list()).map((p) => p.id);
  const sqlite = sqliteOf(ctx.database);
  const insert = sqlite.prepare(
    `insert into audit_events (seq, at, actor, action, project_id, environment, key, ip, user_agent, details, prev_hash, hash)
     values (@seq, @at, @actor, @action, @project_id, @environment, @key, @ip, @user_agent, @details, @prev_hash, @hash)`,
  );
  const start = Date.now() - 91 * DAY;
  const audit = await timed(() => {
    let last = (sqlite.prepare('select seq, hash from audit_events order by seq desc limit 1').get() as
      ChainPoint | undefined) ?? { ...CHAIN_START };
    sqlite.transaction(() => {
      for (let i = 0; i < EVENTS; i += 10_000) {
        const batch = Array.from({ length: Math.min(10_000, EVENTS - i) }, (_, j) =>
          toUnchainedRow(eventAt(i + j, EVENTS, projectIds, start), ''),
        );
        for (const row of linkEvents(last, batch)) {
          insert.run(row);
          last = row;
        }
      }
    })();
  });
  console.log(`seeded ${EVENTS.toLocaleString('en-US')} audit events in ${round(audit.ms / 1000, 1)} s`);
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-ui-'));
  const server = await startServer(
    loadConfig({ DATA_DIR: dataDir, PORT: '0', AVAILABLE_ENVIRONMENTS: 'prod,staging', LOG_LEVEL: 'error' }),
    {
      logger: createLogger('error', () => {}),
      announce: () => {},
      overrides: { kdfParams: { alg: 'scrypt', v: 1, N: 2 ** 12, r: 8, p: 1 } },
      warmUp: false,
    },
  );
  try {
    await seed(server);
    const sizeMiB = fs.statSync(path.join(dataDir, 'secretsfly.db')).size / 2 ** 20;
    console.log(`database: ${round(sizeMiB, 0)} MiB\n`);
    const client = createClient(server.url);
    await client.signIn('admin', PASSWORD);

    // The first audit view after a start walks the whole chain once (audit.routes.ts says why).
    const first = await client.get('/audit');
    console.log(`/audit, first view after start (walks the chain once): ${round(lastServerMs, 0)} ms\n`);
    if (first.status !== 200) throw new Error(`/audit answered ${first.status}`);

    const middle = Math.floor(EVENTS / 2);
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString().slice(0, 10);
    const pages: [string, string][] = [
      ['home (155 projects)', '/'],
      ['environments', '/environments'],
      ['audit, newest 50', '/audit'],
      ['audit, a page half-way down', `/audit?before=${middle}`],
      ['audit, one project', `/audit?project=${LEAF}`],
      ['audit, action secret_written', '/audit?action=secret_written'],
      ['audit, actor admin', '/audit?actor=admin'],
      ['audit, actor alice (1 in 10,000)', '/audit?actor=alice'],
      ['audit, one day 45 days ago', `/audit?from=${day(45)}&to=${day(45)}`],
      ['tokens (200)', `/projects/${LEAF}/tokens`],
      ['secrets (1,000 keys over 10 levels)', `/projects/${LEAF}/envs/prod`],
      ['history', `/projects/${LEAF}/envs/prod/secrets/KEY_0/history`],
      ['missing keys', `/projects/${LEAF}/missing`],
      ['share once', '/share'],
    ];
    const lines = ['| page | server time median | p95 | max | HTML |', '|---|---|---|---|---|'];
    for (const [name, url] of pages) {
      const warm = await client.get(url);
      if (warm.status !== 200) throw new Error(`${url} answered ${warm.status}`);
      const runs: number[] = [];
      for (let i = 0; i < VIEWS; i++) {
        await client.get(url);
        runs.push(lastServerMs);
      }
      const f = figure('ms', runs);
      const p95 = [...runs].sort((a, b) => a - b)[Math.ceil(runs.length * 0.95) - 1]!;
      lines.push(
        `| ${name} | ${round(f.median, 1)} ms | ${round(p95, 1)} ms | ${round(f.max, 1)} ms | ${round(warm.bytes / 1024, 1)} KB |`,
      );
      console.log(lines.at(-1));
    }
    // Signed out: a signed-in visit to /login is sent home.
    const stranger = createClient(server.url);
    const signInRuns: number[] = [];
    for (let i = 0; i <= VIEWS; i++) {
      await stranger.get('/login');
      if (i > 0) signInRuns.push(lastServerMs);
    }
    const signIn = figure('ms', signInRuns);
    lines.push(`| sign-in form | ${round(signIn.median, 1)} ms | | ${round(signIn.max, 1)} ms | |`);
    console.log(`\n${VIEWS} views per page, after one warm-up view, one at a time (Node ${process.version}):\n`);
    console.log(lines.join('\n'));
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
