import fs from 'node:fs';
import path from 'node:path';
import { SCENARIO_NAMES } from '../../benchmark/scenario-names.js';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';

// Proves the command works end to end at the smallest sizes; figures are never asserted on.
describe('secretsfly bench', () => {
  it('should run every scenario and write results.json and results.md', async () => {
    const out = tempDir();
    const result = await runCli(['bench', '--tiny', '--out', out], { dataDir: tempDir() });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      machine: { cpu: string; cores: number; node: string };
      scenarios: {
        name: string;
        figures: Record<string, { median: number; min: number; max: number; runs: number[] }>;
      }[];
    };
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.versions.node);
    expect(report.scenarios.map((s) => s.name)).toEqual([...SCENARIO_NAMES]);
    for (const scenario of report.scenarios) {
      for (const f of Object.values(scenario.figures)) {
        expect(Number.isFinite(f.median) && f.min <= f.median && f.median <= f.max, scenario.name).toBe(true);
      }
    }
    const markdown = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(markdown).toContain('| api-pull | ratio |');
    expect(markdown).toContain('| api-pull-keyed | keyed ÷ classic req/s |');
    expect(markdown).toContain('| api-pull-sealed | sealed ÷ keyed req/s |');
    expect(markdown).toContain('| pull-cold-start | first keyed pull, server |');
    expect(markdown).toContain('## Pull paths side by side');
    expect(result.stdout).toBe(markdown);
  }, 120_000);

  it('should refuse an unknown scenario as a usage error', async () => {
    const result = await runCli(['bench', '--only', 'nope'], { dataDir: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown scenario: nope');
  });
});
