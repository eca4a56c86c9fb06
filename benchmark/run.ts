import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../src/version.js';
import { apiPull } from './scenarios/api-pull.js';
import { pullPathsMarkdown } from './pull-summary.js';
import { apiPullKeyed, apiPullSealed } from './scenarios/api-pull-paths.js';
import { apiPullPostgres } from './scenarios/api-pull-postgres.js';
import { kdfIsolation } from './scenarios/kdf-isolation.js';
import { cryptoFloor, reencrypt, resolveDepth, storage, unseal } from './scenarios/offline.js';
import { pullColdStart } from './scenarios/pull-cold-start.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenario-names.js';
import { type Mode, SIZES } from './sizes.js';
import { round, type ScenarioResult } from './stats.js';

export interface BenchReport {
  readonly secretsfly: string;
  readonly mode: Mode;
  readonly startedAt: string;
  readonly machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string };
  /**
   * The machine's 1-minute load average when the run started and when it ended: well above 0, other
   * processes were sharing the cores, and throughput figures moved with them.
   */
  readonly loadAverage: { start: number; end?: number };
  readonly scenarios: ScenarioResult[];
}

export { SCENARIO_NAMES };

const SCENARIOS: Record<ScenarioName, (mode: Mode, log: (line: string) => void) => Promise<ScenarioResult>> = {
  'crypto-floor': (mode: Mode) => cryptoFloor(SIZES[mode]),
  unseal: (mode: Mode) => unseal(SIZES[mode]),
  'resolve-depth': (mode: Mode) => resolveDepth(SIZES[mode]),
  storage: (mode: Mode) => storage(SIZES[mode]),
  reencrypt: (mode: Mode, log: (line: string) => void) => reencrypt(SIZES[mode], log),
  'kdf-isolation': (mode: Mode, log: (line: string) => void) => kdfIsolation(SIZES[mode], log),
  'api-pull': (mode: Mode, log: (line: string) => void) => apiPull(SIZES[mode], log),
  'api-pull-keyed': (mode: Mode, log: (line: string) => void) => apiPullKeyed(SIZES[mode], log),
  'api-pull-sealed': (mode: Mode, log: (line: string) => void) => apiPullSealed(SIZES[mode], log),
  'api-pull-postgres': (mode: Mode, log: (line: string) => void) => apiPullPostgres(SIZES[mode], log),
  'pull-cold-start': (mode: Mode, log: (line: string) => void) => pullColdStart(SIZES[mode], log),
};

const format = (value: number) =>
  Math.abs(value) >= 100 ? round(value, 0).toLocaleString('en-US') : String(round(value, 2));

export function toMarkdown(report: BenchReport): string {
  const lines = [
    `# secretsfly ${report.secretsfly} benchmark (${report.mode})`,
    '',
    `${report.startedAt} · ${report.machine.cpu} · ${report.machine.cores} cores · ${report.machine.memoryGiB} GiB · Node ${report.machine.node} · ${report.machine.platform} · load average ${round(report.loadAverage.start, 2)} at start, ${report.loadAverage.end === undefined ? '–' : round(report.loadAverage.end, 2)} at end`,
    '',
    '| scenario | figure | median | spread (min–max) | runs |',
    '|---|---|---:|---:|---:|',
  ];
  for (const scenario of report.scenarios) {
    for (const [name, f] of Object.entries(scenario.figures)) {
      lines.push(
        `| ${scenario.name} | ${name} | ${format(f.median)} ${f.unit} | ${format(f.min)}–${format(f.max)} | ${f.runs.length} |`,
      );
    }
  }
  lines.push('', '| scenario | goal | met |', '|---|---|---|');
  for (const scenario of report.scenarios) {
    for (const goal of scenario.goals)
      lines.push(`| ${scenario.name} | ${goal.text} | ${goal.met ? 'yes' : '**no**'} |`);
  }
  lines.push(...pullPathsMarkdown(report.scenarios, format));
  lines.push(
    '',
    ...report.scenarios.map(
      (s) => `- **${s.name}**: ${s.description}${s.notes?.length ? ` (${s.notes.join('; ')})` : ''}`,
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** Runs the scenarios one after another (never two at once: they would measure each other). */
export async function runBench(options: {
  mode: Mode;
  out: string;
  only?: readonly string[];
  log?: (line: string) => void;
}): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cpus = os.cpus();
  const report: BenchReport = {
    secretsfly: VERSION,
    mode: options.mode,
    startedAt: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      platform: `${os.platform()} ${os.release()}`,
    },
    loadAverage: { start: os.loadavg()[0]! },
    scenarios: [],
  };
  for (const name of SCENARIO_NAMES) {
    if (options.only && !options.only.includes(name)) continue;
    log(`${name} …`);
    report.scenarios.push(await SCENARIOS[name](options.mode, log));
  }
  report.loadAverage.end = os.loadavg()[0]!;
  fs.mkdirSync(options.out, { recursive: true });
  fs.writeFileSync(path.join(options.out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(path.join(options.out, 'results.md'), toMarkdown(report));
  return report;
}
