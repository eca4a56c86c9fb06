import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { openSealedPull } from '../../src/secrets/sealed-pull.js';
import { checkPulls, type PullFixture, type PullPath, seedPullFixture, serveEnv } from '../pull-fixture.js';
import { BIN, DIST_BENCH, spawnListening, stop } from '../processes.js';
import { TIMING_LINE } from '../timing-line.js';
import type { Sizes } from '../sizes.js';
import { figure, type Figure, round, type ScenarioResult } from '../stats.js';

/** One GET on a new connection: status, body, and the time from sending it to the body's last byte. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const request = http.get(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** This process's HTTP client, used once against a throwaway server: its own first-use cost is not the server's. */
async function warmClient(): Promise<void> {
  const server = http.createServer((_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  for (let i = 0; i < 5; i++) await get(`http://127.0.0.1:${port}/`, { authorization: 'Bearer x' });
  await new Promise((resolve) => server.close(resolve));
}

/** The server-side timings a serve process started with server-timing.js prints, in order. */
function timings(child: import('node:child_process').ChildProcess) {
  const lines: { url: string; status: number; ms: number; cpuMs: number }[] = [];
  const waiting: (() => void)[] = [];
  let pending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let end: number;
    while ((end = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      if (line.startsWith(TIMING_LINE)) {
        lines.push(JSON.parse(line.slice(TIMING_LINE.length)) as (typeof lines)[number]);
        waiting.splice(0).forEach((wake) => wake());
      }
    }
  });
  return async (index: number) => {
    while (lines.length <= index) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the server printed no timing')), 10_000);
        waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return lines[index]!;
  };
}

/**
 * Every token of the fixture as never used: the first pull after the start then also refreshes
 * last_used_at (one write), as it does after any restart more than a minute after the last pull.
 */
function markUnused(fixture: PullFixture): void {
  const db = new Database(path.join(fixture.dataDir, 'secretsfly.db'));
  try {
    db.prepare('update service_tokens set last_used_at = null').run();
  } finally {
    db.close();
  }
}

interface Pull {
  readonly server: number;
  readonly cpu: number;
  readonly loopback: number;
}

interface Start {
  readonly startupMs: number;
  readonly first: Pull;
  readonly second: Pull;
}

/** A fresh `secretsfly serve`; its first two requests are pulls by `pathName`, each on a new connection. */
async function coldStart(fixture: PullFixture, pathName: PullPath): Promise<Start> {
  markUnused(fixture);
  const preload = pathToFileURL(path.join(DIST_BENCH, 'server-timing.js')).href;
  const started = process.hrtime.bigint();
  const serve = await spawnListening(['--import', preload, BIN, 'serve'], serveEnv(fixture));
  const startupMs = Number(process.hrtime.bigint() - started) / 1e6;
  const serverTiming = timings(serve.child);
  try {
    const request = fixture.requests[pathName];
    const pulls: Pull[] = [];
    for (let i = 0; i < 2; i++) {
      const answer = await get(`${serve.url}${request.path}`, request.headers);
      const timing = await serverTiming(i);
      const keys =
        answer.status !== 200
          ? 0
          : pathName === 'sealed'
            ? openSealedPull(answer.body, fixture.keyed, undefined).secrets.size
            : Object.keys((JSON.parse(answer.body) as { secrets: object }).secrets).length;
      if (keys !== 50 || timing.status !== 200 || timing.url !== request.path) {
        throw new Error(
          `${pathName} pull ${i + 1} after a start failed: ${answer.status} ${answer.body.slice(0, 200)}`,
        );
      }
      pulls.push({ server: timing.ms, cpu: timing.cpuMs, loopback: answer.ms });
    }
    return { startupMs, first: pulls[0]!, second: pulls[1]! };
  } finally {
    await stop(serve.child);
  }
}

/**
 * The first pull a freshly started server answers, by a keyed token and by its proof (each from its
 * own fresh process), and by a classic token for contrast (its first pull runs the KDF once).
 */
export async function pullColdStart(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const fixture = await seedPullFixture('sf-bench-cold-');
  try {
    // Once through a server first: every value is then as every later start finds it.
    const serve = await spawnListening([BIN, 'serve'], serveEnv(fixture));
    try {
      await checkPulls(serve.url, fixture, ['keyed', 'sealed']);
    } finally {
      await stop(serve.child);
    }
    await warmClient();
    const paths: PullPath[] = ['keyed', 'sealed', 'classic'];
    const runs = Object.fromEntries(paths.map((p) => [p, [] as Start[]])) as Record<PullPath, Start[]>;
    for (let run = 1; run <= sizes.coldRuns; run++) {
      for (const pathName of paths) {
        // The classic start (a scrypt run) is the contrast, not the subject: in the first runs only.
        if (pathName === 'classic' && run > sizes.coldClassicRuns) continue;
        runs[pathName].push(await coldStart(fixture, pathName));
      }
      const last = (p: PullPath) => runs[p].at(-1)!;
      log(
        `  run ${run}: first keyed pull ${round(last('keyed').first.server, 2)} ms in the server (CPU ${round(last('keyed').first.cpu, 2)} ms, loopback ${round(last('keyed').first.loopback, 2)} ms), first sealed pull ${round(last('sealed').first.server, 2)} ms (CPU ${round(last('sealed').first.cpu, 2)} ms, loopback ${round(last('sealed').first.loopback, 2)} ms)`,
      );
    }
    const of = (p: PullPath, pick: (s: Start) => number): Figure => figure('ms', runs[p].map(pick));
    const keyedFirst = of('keyed', (s) => s.first.server);
    return {
      name: 'pull-cold-start',
      description:
        'A fresh `secretsfly serve` per run (its tokens last used over a minute ago, so the first pull also refreshes last_used_at); its first GET /api/v1/secrets, by a keyed token alone, by its proof (format=sealed) and, in the first runs, by a classic token with X-Master-Key for contrast, each from its own fresh process. "server" is measured inside the serve process (Node\'s request event to the response\'s finish, via diagnostics_channel), "server CPU" is the process\'s CPU time over that span (all threads; it does not grow while other processes hold the cores); "loopback" is the client\'s time on 127.0.0.1 from sending the request on a new connection to the last byte, an upper bound of the server time',
      figures: {
        'first keyed pull, server': keyedFirst,
        'first keyed pull, server CPU': of('keyed', (s) => s.first.cpu),
        'first keyed pull, loopback': of('keyed', (s) => s.first.loopback),
        'second keyed pull, server': of('keyed', (s) => s.second.server),
        'first sealed pull, server': of('sealed', (s) => s.first.server),
        'first sealed pull, server CPU': of('sealed', (s) => s.first.cpu),
        'first sealed pull, loopback': of('sealed', (s) => s.first.loopback),
        'second sealed pull, server': of('sealed', (s) => s.second.server),
        ...(runs.classic.length > 0 && {
          'first classic pull (one KDF run), server': of('classic', (s) => s.first.server),
        }),
        'start to listening': figure(
          'ms',
          paths.flatMap((p) => runs[p].map((s) => s.startupMs)),
        ),
      },
      goals: [
        {
          text: `first keyed pull < 5 ms server time (median; fresh starts: ${keyedFirst.runs.length})`,
          met: keyedFirst.median < 5,
        },
      ],
    };
  } finally {
    fixture.remove();
  }
}
