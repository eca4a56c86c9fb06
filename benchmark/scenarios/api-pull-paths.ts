import { checkPulls, PULL_LABELS, type PullPath, seedPullFixture, serveEnv } from '../pull-fixture.js';
import { BIN, type Load, load, spawnListening, stop } from '../processes.js';
import type { Sizes } from '../sizes.js';
import { figure, type Figure, round, type ScenarioResult } from '../stats.js';

interface Series {
  rps: number[];
  p50: number[];
  p99: number[];
  cpuUs: number[];
}

const series = (): Series => ({ rps: [], p50: [], p99: [], cpuUs: [] });

function add(to: Series, result: Load): void {
  to.rps.push(result.requestsPerSecond);
  to.p50.push(result.p50);
  to.p99.push(result.p99);
  if (result.serverCpuUs !== undefined) to.cpuUs.push(result.serverCpuUs);
}

/**
 * `subject` against `reference` on one real `secretsfly serve` over the api-pull data, with
 * api-pull's load (autocannon, 50 connections × loadSeconds, after a warm-up at 10): runs alternate
 * between the two, the first of each pair swapping every run, so drift on a shared machine hits
 * both alike, and each run's ratio compares two loads made back to back. The server's CPU time
 * per request is measured too (all its threads): it hardly moves when something else takes a core.
 */
async function pairedPull(
  name: string,
  subject: PullPath,
  reference: PullPath,
  sizes: Sizes,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const fixture = await seedPullFixture(`sf-bench-${subject}-`);
  try {
    const serve = await spawnListening([BIN, 'serve'], serveEnv(fixture));
    try {
      await checkPulls(serve.url, fixture, [reference, subject]);
      const pull = (path: PullPath, connections: number, seconds: number) =>
        load(`${serve.url}${fixture.requests[path].path}`, {
          connections,
          seconds,
          headers: fixture.requests[path].headers,
          serverPid: serve.child.pid,
        });
      if (sizes.warmSeconds > 0) {
        await pull(subject, 10, sizes.warmSeconds);
        await pull(reference, 10, sizes.warmSeconds);
      }
      const measured = { [subject]: series(), [reference]: series() } as Record<PullPath, Series>;
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      let failures = 0;
      for (let run = 1; run <= sizes.runs; run++) {
        const order = run % 2 === 1 ? [subject, reference] : [reference, subject];
        const results = {} as Record<PullPath, Load>;
        for (const path of order) results[path] = await pull(path, 50, sizes.loadSeconds);
        const [a, b] = [results[subject], results[reference]];
        failures += a.non2xx + a.errors + b.non2xx + b.errors;
        add(measured[subject], a);
        add(measured[reference], b);
        ratios.push(a.requestsPerSecond / b.requestsPerSecond);
        if (a.serverCpuUs !== undefined && b.serverCpuUs !== undefined) cpuRatios.push(b.serverCpuUs / a.serverCpuUs);
        const cpu = (l: Load) => (l.serverCpuUs === undefined ? '' : `, ${round(l.serverCpuUs, 0)} µs CPU/request`);
        log(
          `  run ${run}: ${subject} ${round(a.requestsPerSecond, 0)} req/s (p99 ${a.p99} ms${cpu(a)}), ${reference} ${round(b.requestsPerSecond, 0)} req/s (p99 ${b.p99} ms${cpu(b)}), ratio ${round(ratios.at(-1)!)}`,
        );
      }
      const ratio = figure('×', ratios);
      const p99 = figure('ms', measured[subject].p99);
      const figures: Record<string, Figure> = {};
      for (const path of [subject, reference]) {
        const s = measured[path];
        figures[`${path} req/s`] = figure('req/s', s.rps);
        figures[`${path} p50`] = figure('ms', s.p50);
        figures[`${path} p99`] = figure('ms', s.p99);
        if (s.cpuUs.length) figures[`${path} server CPU/request`] = figure('µs', s.cpuUs);
      }
      figures[`${subject} ÷ ${reference} req/s`] = ratio;
      if (cpuRatios.length) figures[`${reference} ÷ ${subject} server CPU/request`] = figure('×', cpuRatios);
      return {
        name,
        description: `GET ${fixture.requests[subject].path} with a ${PULL_LABELS[subject]}, against the ${PULL_LABELS[reference]} on the same server (api-pull's data: 50 keys over root → child → grandchild), autocannon 50 connections × ${sizes.loadSeconds} s, runs alternating; server CPU/request is the serve process's CPU time (all threads) over a run ÷ requests answered`,
        figures,
        goals: [
          { text: `${subject} req/s ≥ ${reference} req/s (median of paired runs)`, met: ratio.median >= 1 },
          { text: 'p99 < 20 ms', met: p99.median < 20 },
          { text: 'every response 200', met: failures === 0 },
        ],
      };
    } finally {
      await stop(serve.child);
    }
  } finally {
    fixture.remove();
  }
}

/** The keyed token alone (no X-Master-Key: its own environment key, no KDF) against the classic pull. */
export const apiPullKeyed = (sizes: Sizes, log: (line: string) => void) =>
  pairedPull('api-pull-keyed', 'keyed', 'classic', sizes, log);

/** The zero-knowledge pull (the proof, format=sealed: ciphertexts and the wrapped key) against the keyed pull. */
export const apiPullSealed = (sizes: Sizes, log: (line: string) => void) =>
  pairedPull('api-pull-sealed', 'sealed', 'keyed', sizes, log);
