import type { ChildProcess } from 'node:child_process';
import { createDatabase, postgresCpuTimeNs, startPostgres } from '../embedded-postgres.js';
import {
  checkPulls,
  PULL_LABELS,
  type PullFixture,
  seedPullFixture,
  seedPullFixtureApart,
  serveEnv,
} from '../pull-fixture.js';
import { BIN, type Load, load, spawnListening, stop } from '../processes.js';
import type { Sizes } from '../sizes.js';
import { stampCost } from '../stamp-cost.js';
import { figure, type Figure, round, type ScenarioResult } from '../stats.js';

type Engine = 'postgres' | 'sqlite';
/** The keyed token alone first: the common path of an app's pull. */
const PATHS = ['keyed', 'classic'] as const;
type Path = (typeof PATHS)[number];

interface Series {
  rps: number[];
  p50: number[];
  p99: number[];
  cpuUs: number[];
  /** PostgreSQL's processes' CPU per request added to the serve process's (postgres only). */
  withDatabaseCpuUs: number[];
}

const series = (): Series => ({ rps: [], p50: [], p99: [], cpuUs: [], withDatabaseCpuUs: [] });

interface Measured {
  readonly load: Load;
  /** The PostgreSQL server's CPU time per answered request (postgres only, where /proc has it). */
  readonly databaseCpuUs?: number;
}

/**
 * The same pulls on both engines: the api-pull data seeded once into SQLite (synchronous=FULL) and
 * once into a throwaway PostgreSQL (durable defaults), one `secretsfly serve` on each, loaded in
 * turn with the same load as the paired pull scenarios (autocannon 50 connections × loadSeconds,
 * after a warm-up at 10), the first of each pair swapping every run. Then the cost of PostgreSQL's
 * coherence check alone (stamp-cost.ts).
 */
export async function apiPullPostgres(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const postgres = await startPostgres();
  const fixtures: PullFixture[] = [];
  const servers: ChildProcess[] = [];
  try {
    const databaseUrl = await createDatabase(postgres.url, 'sf_bench_pull');
    const seed = async (seeding: Promise<PullFixture>) => {
      const fixture = await seeding;
      fixtures.push(fixture);
      return fixture;
    };
    // PostgreSQL's in a process of its own: see seedPullFixtureApart.
    const seeded: Record<Engine, PullFixture> = {
      sqlite: await seed(seedPullFixture('sf-bench-pg-sqlite-')),
      postgres: await seed(seedPullFixtureApart('sf-bench-pg-', { databaseUrl })),
    };
    const serve = {} as Record<Engine, { child: ChildProcess; url: string }>;
    for (const engine of ['sqlite', 'postgres'] as const) {
      serve[engine] = await spawnListening([BIN, 'serve'], serveEnv(seeded[engine]));
      servers.push(serve[engine].child);
      await checkPulls(serve[engine].url, seeded[engine], PATHS);
    }
    const pull = async (engine: Engine, path: Path, connections: number, seconds: number): Promise<Measured> => {
      const request = seeded[engine].requests[path];
      const before = engine === 'postgres' ? postgresCpuTimeNs(postgres.dataDir) : undefined;
      const result = await load(`${serve[engine].url}${request.path}`, {
        connections,
        seconds,
        headers: request.headers,
        serverPid: serve[engine].child.pid,
      });
      const after = engine === 'postgres' ? postgresCpuTimeNs(postgres.dataDir) : undefined;
      return {
        load: result,
        ...(before !== undefined &&
          after !== undefined &&
          result.requests > 0 && { databaseCpuUs: (after - before) / 1e3 / result.requests }),
      };
    };
    if (sizes.warmSeconds > 0) {
      for (const path of PATHS) {
        await pull('postgres', path, 10, sizes.warmSeconds);
        await pull('sqlite', path, 10, sizes.warmSeconds);
      }
    }

    const measured = Object.fromEntries(PATHS.map((p) => [p, { postgres: series(), sqlite: series() }])) as Record<
      Path,
      Record<Engine, Series>
    >;
    const ratios = Object.fromEntries(PATHS.map((p) => [p, [] as number[]])) as Record<Path, number[]>;
    let failures = 0;
    for (let run = 1; run <= sizes.runs; run++) {
      for (const path of PATHS) {
        const order: Engine[] = run % 2 === 1 ? ['postgres', 'sqlite'] : ['sqlite', 'postgres'];
        const results = {} as Record<Engine, Measured>;
        for (const engine of order) results[engine] = await pull(engine, path, 50, sizes.loadSeconds);
        for (const engine of order) {
          const { load: l, databaseCpuUs } = results[engine];
          const s = measured[path][engine];
          failures += l.non2xx + l.errors;
          s.rps.push(l.requestsPerSecond);
          s.p50.push(l.p50);
          s.p99.push(l.p99);
          if (l.serverCpuUs !== undefined) s.cpuUs.push(l.serverCpuUs);
          if (l.serverCpuUs !== undefined && databaseCpuUs !== undefined)
            s.withDatabaseCpuUs.push(l.serverCpuUs + databaseCpuUs);
        }
        const [pg, lite] = [results.postgres, results.sqlite];
        ratios[path].push(pg.load.requestsPerSecond / lite.load.requestsPerSecond);
        const cpu = (m: Measured) =>
          m.load.serverCpuUs === undefined
            ? ''
            : `, ${round(m.load.serverCpuUs, 0)} µs CPU/request${m.databaseCpuUs === undefined ? '' : ` + ${round(m.databaseCpuUs, 0)} µs in PostgreSQL`}`;
        log(
          `  run ${run} ${path}: postgres ${round(pg.load.requestsPerSecond, 0)} req/s (p99 ${pg.load.p99} ms${cpu(pg)}), sqlite ${round(lite.load.requestsPerSecond, 0)} req/s (p99 ${lite.load.p99} ms${cpu(lite)}), ratio ${round(ratios[path].at(-1)!)}`,
        );
      }
    }

    const figures: Record<string, Figure> = {};
    for (const path of PATHS) {
      for (const engine of ['postgres', 'sqlite'] as const) {
        const s = measured[path][engine];
        figures[`${path} ${engine} req/s`] = figure('req/s', s.rps);
        figures[`${path} ${engine} p50`] = figure('ms', s.p50);
        figures[`${path} ${engine} p99`] = figure('ms', s.p99);
        if (s.cpuUs.length) figures[`${path} ${engine} server CPU/request`] = figure('µs', s.cpuUs);
        if (s.withDatabaseCpuUs.length)
          figures[`${path} ${engine} server + PostgreSQL CPU/request`] = figure('µs', s.withDatabaseCpuUs);
      }
      figures[`${path} postgres ÷ sqlite req/s`] = figure('×', ratios[path]);
    }

    log('  stamp check cost …');
    const stamp = await stampCost(databaseUrl, seeded.postgres.dataDir, sizes.stampChecks);
    figures['postgres stamp check, one caller per arrival'] = stamp.single;
    figures['postgres stamp check, 10 callers per arrival'] = stamp.coalesced;
    log(
      `  stamp check: ${round(stamp.single.median, 1)} µs per check alone, ${round(stamp.coalesced.median, 1)} µs per caller with 10 per arrival`,
    );

    const keyedRatio = figures['keyed postgres ÷ sqlite req/s']!;
    const classicRatio = figures['classic postgres ÷ sqlite req/s']!;
    const pgCpuMeasured = measured.keyed.postgres.withDatabaseCpuUs.length > 0;
    return {
      name: 'api-pull-postgres',
      description: `GET /api/v1/secrets with a ${PULL_LABELS.keyed}, then with a ${PULL_LABELS.classic}, on two servers over the same data (api-pull's: 50 keys over root → child → grandchild), one on SQLite (synchronous=FULL), one on a local PostgreSQL from embedded-postgres (durable defaults, same machine: its processes share the cores), autocannon 50 connections × ${sizes.loadSeconds} s, runs alternating between the engines; server CPU/request is the serve process's CPU time (all threads) ÷ requests answered, "server + PostgreSQL" adds the PostgreSQL server's processes (from /proc); the stamp checks are one process's \`changes.arrived(); await changes.stamp()\` on a pool of 10 (median of 5 batches of ${sizes.stampChecks})`,
      figures,
      goals: [
        { text: 'keyed: postgres req/s ≥ 0.8 × sqlite req/s (median of paired runs)', met: keyedRatio.median >= 0.8 },
        {
          text: 'classic: postgres req/s ≥ 0.8 × sqlite req/s (median of paired runs)',
          met: classicRatio.median >= 0.8,
        },
        { text: 'every response 200', met: failures === 0 },
      ],
      ...(!pgCpuMeasured && { notes: ["PostgreSQL's own CPU is excluded: /proc or postmaster.pid was unreadable"] }),
    };
  } finally {
    for (const child of servers) await stop(child);
    for (const fixture of fixtures) fixture.remove();
    await postgres.stop();
  }
}
