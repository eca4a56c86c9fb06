import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main.js';
import { load, startProbe, stop } from '../processes.js';
import type { Sizes } from '../sizes.js';
import { figure, round, type ScenarioResult } from '../stats.js';

interface Delay {
  maxMs: number;
  p99Ms: number;
  derivations: number;
}

/** Good pulls while requests with wrong master keys (and a valid token) make the server derive: ten, unless tiny. */
export async function kdfIsolation(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-kdf-'));
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir }));
  const { masterKey } = await ctx.projects.create({ name: 'acme' }, { name: 'bench' });
  const access = { masterKey: new TextEncoder().encode(masterKey) };
  for (let i = 0; i < 50; i++) {
    await ctx.secrets.set({ project: 'acme', environment: 'prod', key: `KEY_${i}`, value: 'v'.repeat(40) }, access, {
      name: 'bench',
    });
  }
  const { token } = await ctx.tokens.create(
    { project: 'acme', environment: 'prod', access: 'read' },
    { name: 'bench' },
  );
  await ctx.close();

  const probe = await startProbe({
    DATA_DIR: dataDir,
    PORT: '0',
    API_RATE_LIMIT_PER_MINUTE: '0',
    MASTER_KEY_ATTEMPTS_PER_MINUTE: '10000',
  });
  const url = `${probe.url}/api/v1/secrets`;
  const headers = { authorization: `Bearer ${token}`, 'x-master-key': masterKey! };
  try {
    await fetch(url, { headers }); // derive once: later good pulls come from the API cache
    const quiet = { p99: [] as number[], eld: [] as number[] };
    const storm = {
      p50: [] as number[],
      p99: [] as number[],
      eldMax: [] as number[],
      eldP99: [] as number[],
      wrongMs: [] as number[],
    };
    for (let run = 1; run <= sizes.runs; run++) {
      await probe.ask('reset');
      const calm = await load(url, { connections: 10, seconds: sizes.isolationSeconds, headers });
      quiet.p99.push(calm.p99);
      quiet.eld.push((await probe.ask<Delay>('report')).maxMs);

      await probe.ask('reset');
      const before = (await probe.ask<Delay>('report')).derivations;
      const started = Date.now();
      const wrong = Promise.all(
        Array.from({ length: sizes.wrongKeys }, (_, i) =>
          fetch(url, {
            headers: {
              authorization: headers.authorization,
              'x-master-key': `sfmk_${String(run * 100 + i).padStart(43, 'W')}`,
            },
          }).then((res) => res.status),
        ),
      ).then((statuses) => ({ statuses, ms: Date.now() - started }));
      const busy = await load(url, { connections: 10, seconds: sizes.isolationSeconds, headers });
      const wrongDone = await wrong;
      const delay = await probe.ask<Delay>('report');
      if (!wrongDone.statuses.every((s) => s === 401) || delay.derivations - before !== sizes.wrongKeys) {
        throw new Error(
          `expected ${sizes.wrongKeys} derivations answered 401, got ${delay.derivations - before}: ${wrongDone.statuses.join(',')}`,
        );
      }
      storm.p50.push(busy.p50);
      storm.p99.push(busy.p99);
      storm.eldMax.push(delay.maxMs);
      storm.eldP99.push(delay.p99Ms);
      storm.wrongMs.push(wrongDone.ms);
      log(
        `  run ${run}: good pulls p99 ${busy.p99} ms (quiet ${calm.p99} ms), event-loop delay max ${round(delay.maxMs, 1)} ms, ${sizes.wrongKeys} wrong keys answered in ${wrongDone.ms} ms`,
      );
    }
    const eldMax = figure('ms', storm.eldMax);
    return {
      name: 'kdf-isolation',
      description: `Good pulls (10 connections) while ${sizes.wrongKeys} requests with wrong master keys and a valid token run scrypt; event-loop delay measured inside the server`,
      figures: {
        'event-loop delay max': eldMax,
        'event-loop delay p99': figure('ms', storm.eldP99),
        'good pull p50 during': figure('ms', storm.p50),
        'good pull p99 during': figure('ms', storm.p99),
        'good pull p99 quiet': figure('ms', quiet.p99),
        'event-loop delay max quiet': figure('ms', quiet.eld),
        [`${sizes.wrongKeys} wrong keys answered in`]: figure('ms', storm.wrongMs),
      },
      goals: [{ text: 'max event-loop delay < 50 ms', met: eldMax.median < 50 }],
    };
  } finally {
    await stop(probe.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
