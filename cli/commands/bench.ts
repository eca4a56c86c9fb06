import path from 'node:path';
import { type Command, Option } from 'commander';
import { SCENARIO_NAMES } from '../../benchmark/scenario-names.js';
import { globals } from '../context.js';
import { CliError, printJson, UsageError } from '../io.js';
import { startProgress } from '../progress.js';

/**
 * The load generator is a dev dependency (no server needs it): a missing one is one line saying
 * what to install, and the benchmark is loaded only by this command, so every other command starts
 * without it (and faster).
 */
async function requireAutocannon(): Promise<void> {
  try {
    await import('autocannon');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new CliError('bench needs autocannon: npm install --no-save autocannon');
  }
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run the benchmark suite; writes results.json and results.md')
    .option('--quick', 'smaller sizes and shorter runs (under a minute)')
    .option('--out <dir>', 'where to write the results', 'bench-results')
    .option('--only <scenarios>', `comma-separated subset of: ${SCENARIO_NAMES.join(', ')}`)
    // Smallest sizes, for the test that proves the command works.
    .addOption(new Option('--tiny').hideHelp())
    .action(async (options: { quick?: boolean; tiny?: boolean; out: string; only?: string }, command: Command) => {
      const only = options.only?.split(',').map((name) => name.trim());
      const unknown = only?.filter((name) => !(SCENARIO_NAMES as readonly string[]).includes(name));
      if (unknown?.length) throw new UsageError(`unknown scenario: ${unknown.join(', ')}`);
      await requireAutocannon();
      const { runBench, toMarkdown } = await import('../../benchmark/run.js');
      const report = await runWithProgress(only, (log) =>
        runBench({
          mode: options.tiny ? 'tiny' : options.quick ? 'quick' : 'full',
          out: path.resolve(options.out),
          ...(only && { only }),
          log,
        }),
      );
      // --json: the very object written to results.json (its format belongs to benchmark/, camelCase included).
      if (globals(command).json) printJson(report);
      else process.stdout.write(toMarkdown(report));
    });
}

/**
 * Scenarios done of those chosen, on a bar under bench's own lines. runBench announces each scenario
 * with a line `<name> …` before running it: that line moves the bar (and is still printed).
 */
async function runWithProgress<T>(
  only: readonly string[] | undefined,
  run: (log: (line: string) => void) => Promise<T>,
): Promise<T> {
  const chosen = SCENARIO_NAMES.filter((name) => !only || only.includes(name));
  const progress = startProgress('bench');
  progress.update(0, chosen.length);
  try {
    const result = await run((line) => {
      const started = chosen.findIndex((name) => line === `${name} …`);
      if (started >= 0) progress.update(started, chosen.length);
      progress.log(line);
    });
    progress.update(chosen.length, chosen.length);
    return result;
  } finally {
    progress.stop();
  }
}
