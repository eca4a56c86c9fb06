import fs from 'node:fs';
import path from 'node:path';
import { checkPulls, seedPullFixture, serveEnv } from '../pull-fixture.js';
import { BIN, DIST_BENCH, load, spawnListening, stop } from '../processes.js';
import type { Sizes } from '../sizes.js';
import { figure, round, type ScenarioResult } from '../stats.js';

/** A real `secretsfly serve` pulling 50 keys resolved through three levels, against bare Express serving the same JSON. */
export async function apiPull(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const fixture = await seedPullFixture('sf-bench-pull-');
  const { dataDir } = fixture;
  const { headers } = fixture.requests.classic;
  const serve = await spawnListening([BIN, 'serve'], serveEnv(fixture));
  const bodyFile = path.join(dataDir, 'body.json');
  try {
    fs.writeFileSync(bodyFile, await checkPulls(serve.url, fixture, ['classic']));
    const baseline = await spawnListening([path.join(DIST_BENCH, 'baseline-server.js')], { BENCH_BODY_FILE: bodyFile });
    try {
      const ours = { rps: [] as number[], p50: [] as number[], p99: [] as number[], cpuUs: [] as number[] };
      const bare = { rps: [] as number[], p50: [] as number[], p99: [] as number[] };
      const ratios: number[] = [];
      let failures = 0;
      // Warm both, then alternate so drift on a shared machine hits both alike.
      if (sizes.warmSeconds > 0) {
        await load(`${serve.url}/api/v1/secrets`, { connections: 10, seconds: sizes.warmSeconds, headers });
        await load(`${baseline.url}/api/v1/secrets`, { connections: 10, seconds: sizes.warmSeconds });
      }
      for (let run = 1; run <= sizes.runs; run++) {
        const a = await load(`${serve.url}/api/v1/secrets`, {
          connections: 50,
          seconds: sizes.loadSeconds,
          headers,
          serverPid: serve.child.pid,
        });
        const b = await load(`${baseline.url}/api/v1/secrets`, { connections: 50, seconds: sizes.loadSeconds });
        failures += a.non2xx + a.errors;
        ours.rps.push(a.requestsPerSecond);
        ours.p50.push(a.p50);
        ours.p99.push(a.p99);
        if (a.serverCpuUs !== undefined) ours.cpuUs.push(a.serverCpuUs);
        bare.rps.push(b.requestsPerSecond);
        bare.p50.push(b.p50);
        bare.p99.push(b.p99);
        ratios.push(a.requestsPerSecond / b.requestsPerSecond);
        log(
          `  run ${run}: secretsfly ${round(a.requestsPerSecond, 0)} req/s (p99 ${a.p99} ms), bare express ${round(b.requestsPerSecond, 0)} req/s, ratio ${round(a.requestsPerSecond / b.requestsPerSecond)}`,
        );
      }
      const ratio = figure('×', ratios);
      const p99 = figure('ms', ours.p99);
      return {
        name: 'api-pull',
        description: `GET /api/v1/secrets, 50 keys over root → child → grandchild, autocannon 50 connections × ${sizes.loadSeconds} s, against bare Express serving the same JSON`,
        figures: {
          'secretsfly req/s': figure('req/s', ours.rps),
          'secretsfly p50': figure('ms', ours.p50),
          'secretsfly p99': p99,
          ...(ours.cpuUs.length > 0 && { 'secretsfly server CPU/request': figure('µs', ours.cpuUs) }),
          'bare express req/s': figure('req/s', bare.rps),
          'bare express p99': figure('ms', bare.p99),
          ratio: ratio,
        },
        goals: [
          { text: 'ratio ≥ 0.6', met: ratio.median >= 0.6 },
          { text: 'p99 < 20 ms', met: p99.median < 20 },
          { text: 'every response 200', met: failures === 0 },
        ],
      };
    } finally {
      await stop(baseline.child);
    }
  } finally {
    await stop(serve.child);
    fixture.remove();
  }
}
