import { Command, CommanderError } from 'commander';
import { ConfigError } from '../src/errors.js';
import { AppError } from '../src/errors.js';
import { errorSummary } from '../src/logger.js';
import { VERSION } from '../src/version.js';

type Register = (program: Command) => void;

/**
 * Every top-level command by the module that registers it, in the order `--help` lists them. Only
 * the module of the command being run is loaded (a startup of `--version` loads none): what `--help`,
 * an unknown command (for its suggestion) or `completion` needs, the whole tree, is loaded only for
 * them. test/cli/completion.test.ts checks these names against what each module registers.
 */
export const COMMAND_MODULES: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] =
  [
    {
      names: ['migrate', 'user', 'env', 'audit', 'backup', 'restore'],
      load: async () => (await import('./commands/admin.js')).registerAdminCommands,
    },
    { names: ['project', 'rotate'], load: async () => (await import('./commands/project.js')).registerProjectCommands },
    {
      names: ['expiring', 'secret', 'import', 'diff'],
      load: async () => (await import('./commands/secret.js')).registerSecretCommands,
    },
    { names: ['token'], load: async () => (await import('./commands/token.js')).registerTokenCommands },
    { names: ['serve'], load: async () => (await import('./commands/server.js')).registerServerCommands },
    {
      names: ['pull', 'secrets', 'run'],
      load: async () => (await import('./commands/client.js')).registerClientCommands,
    },
    { names: ['bench'], load: async () => (await import('./commands/bench.js')).registerBenchCommand },
    { names: ['share'], load: async () => (await import('./commands/share.js')).registerShareCommands },
    { names: ['copy'], load: async () => (await import('./commands/copy.js')).registerCopyCommand },
    { names: ['login', 'logout'], load: async () => (await import('./commands/login.js')).registerLoginCommands },
    { names: ['agent'], load: async () => (await import('./commands/agent.js')).registerAgentCommands },
    {
      names: ['completion', '__complete'],
      load: async () => (await import('./commands/completion.js')).registerCompletionCommands,
    },
  ];

/** Commands that need the whole tree, whatever their module. */
const WHOLE_TREE = new Set(['completion', 'help']);

/** The modules `argv` needs: its command's, none for a bare `--version`, all when in doubt. */
function modulesFor(argv: readonly string[]): readonly (typeof COMMAND_MODULES)[number][] {
  const args = argv.slice(2);
  // The program's own options take no value: the first other word is the command.
  const name = args.find((arg) => !arg.startsWith('-'));
  if (name === undefined) {
    const versionOnly = args.some((arg) => arg === '-V' || arg === '--version') && !args.some(isHelp);
    return versionOnly ? [] : COMMAND_MODULES;
  }
  if (WHOLE_TREE.has(name)) return COMMAND_MODULES;
  const owner = COMMAND_MODULES.find((module) => module.names.includes(name));
  return owner ? [owner] : COMMAND_MODULES;
}

const isHelp = (arg: string) => arg === '-h' || arg === '--help';

export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('secretsfly')
    .description('self-hosted, hierarchical secrets manager')
    .version(VERSION)
    .exitOverride()
    .showSuggestionAfterError()
    // Options after a subcommand belong to it: `run -- cmd --flag` passes --flag to cmd.
    .enablePositionalOptions();

  const registers = await Promise.all(modulesFor(argv).map((module) => module.load()));
  for (const register of registers) register(program);
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
    await (await buildProgram(argv)).parseAsync([...argv]);
    // `run` sets the child's exit code.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own message already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0
        ? 0
        : 2;
    }
    // io.js (and its prompt library) is loaded by the commands that use it, not by every startup.
    const { UsageError } = await import('./io.js');
    if (error instanceof UsageError) {
      process.stderr.write(`secretsfly: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`secretsfly: invalid configuration: ${error.message}\n`);
      return 1;
    }
    if (error instanceof AppError) {
      process.stderr.write(`secretsfly: ${error.message}${nextStep(error)}\n`);
      return 1;
    }
    // Unexpected: one line, no stack and nothing quoted (it could carry data).
    process.stderr.write(`secretsfly: unexpected error: ${errorSummary(error).message}\n`);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

/** What to do about the refusals people meet most from the server-side commands. */
function nextStep(error: AppError): string {
  if (error.code === 'not_found' && error.message.startsWith('project ')) return ": see 'secretsfly project list'";
  if (error.code === 'not_found' && error.message.startsWith('environment ')) return ": see 'secretsfly env list'";
  if (error.code === 'invalid_master_key') {
    return ': use the key printed when the root project was created or last rotated (--master-key-file or SECRETSFLY_MASTER_KEY)';
  }
  if (error.code === 'too_large') return ': keep it in a file the app reads, or raise MAX_SECRET_BYTES on the server';
  return '';
}
