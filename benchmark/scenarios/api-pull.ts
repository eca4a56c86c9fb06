import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main.js';
import { BIN, DIST_BENCH, load, spawnListening, stop } from '../processes.js';
import type { Sizes } from '../sizes.js';
import { figure, round, type ScenarioResult } from '../stats.js';

const actor = { name: 'bench' };

/** A real `secretsfly serve` pulling 50 keys resolved through three levels, against bare Express serving the same JSON. */
export async function apiPull(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-pull-'));
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir }));
  const { masterKey } = await ctx.projects.create({ name: 'acme' }, actor);
  await ctx.projects.create({ name: 'acme-api', parent: 'acme' }, actor);
  await ctx.projects.create({ name: 'acme-api-eu', parent: 'acme-api' }, actor);
  const access = { masterKey: new TextEncoder().encode(masterKey) };
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
          access,
          actor,
        ),
      ),
    );
  await write('acme', 0, 40);
  await write('acme-api', 30, 45);
  await write('acme-api-eu', 40, 50);
  const { token } = await ctx.tokens.create({ project: 'acme-api-eu', environment: 'prod', access: 'read' }, actor);
  await ctx.close();

  const headers = { authorization: `Bearer ${token}`, 'x-master-key': masterKey! };
  const serve = await spawnListening([BIN, 'serve'], {
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'info',
    API_RATE_LIMIT_PER_MINUTE: '0',
  });
  const bodyFile = path.join(dataDir, 'body.json');
  try {
    const first = await fetch(`${serve.url}/api/v1/secrets`, { headers });
    const body = await first.text();
    if (first.status !== 200 || Object.keys((JSON.parse(body) as { secrets: object }).secrets).length !== 50) {
      throw new Error(`setup pull failed: ${first.status}`);
    }
    fs.writeFileSync(bodyFile, body);
    const baseline = await spawnListening([path.join(DIST_BENCH, 'baseline-server.js')], { BENCH_BODY_FILE: bodyFile });
    try {
      const ours = { rps: [] as number[], p50: [] as number[], p99: [] as number[] };
      const bare = { rps: [] as number[], p50: [] as number[], p99: [] as number[] };
      const ratios: number[] = [];
      let failures = 0;
      // Warm both, then alternate so drift on a shared machine hits both alike.
      if (sizes.warmSeconds > 0) {
        await load(`${serve.url}/api/v1/secrets`, { connections: 10, seconds: sizes.warmSeconds, headers });
        await load(`${baseline.url}/api/v1/secrets`, { connections: 10, seconds: sizes.warmSeconds });
      }
      for (let run = 1; run <= sizes.runs; run++) {
        const a = await load(`${serve.url}/api/v1/secrets`, { connections: 50, seconds: sizes.loadSeconds, headers });
        const b = await load(`${baseline.url}/api/v1/secrets`, { connections: 50, seconds: sizes.loadSeconds });
        failures += a.non2xx + a.errors;
        ours.rps.push(a.requestsPerSecond);
        ours.p50.push(a.p50);
        ours.p99.push(a.p99);
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
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
