import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_MODULES } from '../../cli/index.js';

/**
 * What keeps `secretsfly --version` and `--help` fast (README, "Startup"): the command table loads
 * only the module of the command being run. Times are measured, not asserted; this checks the
 * table the lazy loading relies on, and what each command line loads.
 */
const topLevel = (program: Command) => program.commands.map((command) => command.name());
const argv = (...args: string[]) => ['node', 'secretsfly', ...args];

describe('the lazily loaded command table', () => {
  it("should name exactly the commands each module registers, in the table's order", async () => {
    const all: string[] = [];
    for (const module of COMMAND_MODULES) {
      const program = new Command('secretsfly').enablePositionalOptions();
      (await module.load())(program);
      expect(topLevel(program)).toEqual(module.names);
      all.push(...module.names);
    }
    expect(new Set(all).size).toBe(all.length);
  });

  it('should load no command for --version', async () => {
    expect(topLevel(await buildProgram(argv('--version')))).toEqual([]);
  });

  it("should load only the command's module to run a command", async () => {
    expect(topLevel(await buildProgram(argv('--json', 'secret', 'list', 'acme', 'prod')))).toEqual([
      'expiring',
      'secret',
      'import',
      'diff',
    ]);
  });

  it('should load every command for help, an unknown command and completion', async () => {
    const every = COMMAND_MODULES.flatMap((module) => module.names);
    for (const args of [[], ['--help'], ['help', 'secret'], ['secrte'], ['completion', 'bash'], ['--version', '-h']]) {
      expect(topLevel(await buildProgram(argv(...args)))).toEqual(every);
    }
  });
});
