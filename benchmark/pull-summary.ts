import { PULL_LABELS, type PullPath } from './pull-fixture.js';
import type { Figure, ScenarioResult } from './stats.js';

type Format = (value: number) => string;

/**
 * The three pull paths side by side, for results.md: each path's throughput, p99 and server CPU per
 * request, and the ratios from the paired scenarios (two loads on one server, back to back), then
 * the first pull after a start. Empty when none of the pull-path scenarios ran.
 */
export function pullPathsMarkdown(scenarios: readonly ScenarioResult[], format: Format): string[] {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const keyed = byName.get('api-pull-keyed');
  const sealed = byName.get('api-pull-sealed');
  const classic = byName.get('api-pull');
  const cold = byName.get('pull-cold-start');
  if (!keyed && !sealed && !cold) return [];

  const spread = (f: Figure | undefined, unit = f?.unit ?? '') =>
    f ? `${format(f.median)}${unit ? ` ${unit}` : ''} (${format(f.min)}–${format(f.max)})` : '–';
  // Where each path's own figures come from: the scenario that has it as its subject first.
  const source = (path: PullPath): { scenario: ScenarioResult; prefix: string } | undefined => {
    if (path === 'classic') {
      if (keyed) return { scenario: keyed, prefix: 'classic' };
      if (classic) return { scenario: classic, prefix: 'secretsfly' };
      return undefined;
    }
    if (path === 'keyed')
      return keyed ? { scenario: keyed, prefix: 'keyed' } : sealed && { scenario: sealed, prefix: 'keyed' };
    return sealed && { scenario: sealed, prefix: 'sealed' };
  };
  const keyedOverClassic = keyed?.figures['keyed ÷ classic req/s'];
  const sealedOverKeyed = sealed?.figures['sealed ÷ keyed req/s'];
  const ratioCell = (path: PullPath, to: PullPath): string => {
    if (path === to) return '1';
    if (path === 'keyed' && to === 'classic') return spread(keyedOverClassic, '');
    if (path === 'sealed' && to === 'keyed') return spread(sealedOverKeyed, '');
    if (path === 'sealed' && to === 'classic' && keyedOverClassic && sealedOverKeyed) {
      return `${format(keyedOverClassic.median * sealedOverKeyed.median)} (product)`;
    }
    return '–';
  };

  const lines = [
    '',
    '## Pull paths side by side',
    '',
    '| path | req/s median (min–max) | p99 | server CPU/request | ÷ classic | ÷ keyed | from |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const path of ['classic', 'keyed', 'sealed'] as const) {
    const from = source(path);
    if (!from) continue;
    const f = (what: string) => from.scenario.figures[`${from.prefix} ${what}`];
    lines.push(
      `| ${path}: ${PULL_LABELS[path]} | ${spread(f('req/s'), '')} | ${spread(f('p99'))} | ${spread(f('server CPU/request'))} | ${ratioCell(path, 'classic')} | ${ratioCell(path, 'keyed')} | ${from.scenario.name} |`,
    );
  }
  lines.push(
    '',
    'Ratios are medians (min–max) of per-run ratios, each from two loads made back to back on one server: keyed ÷ classic in api-pull-keyed, sealed ÷ keyed in api-pull-sealed; sealed ÷ classic is their product. Server CPU/request (the serve process, all threads) barely moves when other processes share the machine; req/s does.',
  );
  if (classic) {
    lines.push(
      '',
      `api-pull (classic, its own server, against bare Express): ${spread(classic.figures['secretsfly req/s'], '')} req/s, ratio to bare Express ${spread(classic.figures.ratio, '')}.`,
    );
  }
  if (cold) {
    const first = (path: string) => {
      const server = cold.figures[`first ${path} pull, server`];
      const cpu = cold.figures[`first ${path} pull, server CPU`];
      const loopback = cold.figures[`first ${path} pull, loopback`];
      return server && cpu && loopback
        ? `${path} median ${format(server.median)} ms, max ${format(server.max)} ms (CPU: median ${format(cpu.median)} ms; loopback: median ${format(loopback.median)} ms, max ${format(loopback.max)} ms)`
        : undefined;
    };
    const classicCold = cold.figures['first classic pull (one KDF run), server'];
    lines.push(
      '',
      `First pull after a start (pull-cold-start; fresh servers per path: ${cold.figures['first keyed pull, server']?.runs.length ?? 0}), server time measured inside the serve process, with the process's CPU time over it and the loopback time (the client's, an upper bound) in brackets: ${[first('keyed'), first('sealed')].filter(Boolean).join('; ')}${classicCold ? `; classic, for contrast (one KDF run), median ${format(classicCold.median)} ms` : ''}.`,
    );
  }
  return lines;
}
