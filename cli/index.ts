import { Command, CommanderError } from 'commander';
import { ConfigError } from '../src/errors.js';
import { AppError } from '../src/errors.js';
import { errorSummary } from '../src/logger.js';
import { VERSION } from '../src/version.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerClientCommands } from './commands/client.js';
import { registerCopyCommand } from './commands/copy.js';
import { registerLoginCommands } from './commands/login.js';
import { registerServerCommands } from './commands/server.js';
import { registerShareCommands } from './commands/share.js';
import { registerProjectCommands } from './commands/project.js';
import { registerSecretCommands } from './commands/secret.js';
import { registerTokenCommands } from './commands/token.js';
import { UsageError } from './io.js';

function buildProgram(): Command {
  const program = new Command('secretsfly')
    .description('self-hosted, hierarchical secrets manager')
    .version(VERSION)
    .exitOverride()
    .showSuggestionAfterError()
    // Options after a subcommand belong to it: `run -- cmd --flag` passes --flag to cmd.
    .enablePositionalOptions();

  registerAdminCommands(program);
  registerProjectCommands(program);
  registerSecretCommands(program);
  registerTokenCommands(program);
  registerServerCommands(program);
  registerClientCommands(program);
  registerLoginCommands(program);
  registerBenchCommand(program);
  registerShareCommands(program);
  registerCopyCommand(program);
  acceptJsonEverywhere(program);
  return program;
}

/**
 * `--json` is accepted anywhere on the command line (CONTRACT §6): before the command, after it, after
 * its arguments. Positional options (kept for `run -- cmd --flag`) make each command own only the options
 * written between its name and its subcommand or `--`, so every command, group and leaf alike, declares
 * the same flag; `globals(command).json` (optsWithGlobals) then sees it whichever level took it. `run`
 * stops at its first argument (passThroughOptions), so a `--json` meant for the child stays the child's.
 */
function acceptJsonEverywhere(command: Command): void {
  command.option('--json', 'print JSON instead of text');
  for (const sub of command.commands) acceptJsonEverywhere(sub);
}

/** Runs the CLI; resolves to the exit code: 0 success, 1 failure, 2 usage error. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    // `run` sets the child's exit code.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own message already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0
        ? 0
        : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`secretsfly: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`secretsfly: invalid configuration: ${error.message}\n`);
      return 1;
    }
    if (error instanceof AppError) {
      process.stderr.write(`secretsfly: ${error.message}\n`);
      return 1;
    }
    // Unexpected: one line, no stack and nothing quoted (it could carry data).
    process.stderr.write(`secretsfly: unexpected error: ${errorSummary(error).message}\n`);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}
