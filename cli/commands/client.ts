import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { globals } from '../context.js';
import { CliError, printJson, readMasterKeyText, UsageError } from '../io.js';
import { callServer, serverUrl } from '../server-client.js';

interface ClientOptions {
  masterKeyFile?: string;
}

/** GET /api/v1/secrets with SECRETSFLY_TOKEN and the master key; any failure is one line. */
async function fetchSecrets(options: ClientOptions, format: 'json' | 'dotenv' | 'shell'): Promise<string> {
  const url = serverUrl();
  const token = process.env.SECRETSFLY_TOKEN;
  if (!token) throw new CliError('SECRETSFLY_TOKEN is not set');
  const masterKey = await readMasterKeyText(options);
  return callServer(`${url}/api/v1/secrets${format === 'json' ? '' : `?format=${format}`}`, {
    headers: { authorization: `Bearer ${token}`, 'x-master-key': masterKey },
  });
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function registerClientCommands(program: Command): void {
  program
    .command('pull')
    .description("print the resolved secrets of the token's project and environment")
    .option('--format <format>', 'json, dotenv or shell', 'json')
    .option('--master-key-file <path>', 'file holding the master key')
    .action(async (options: ClientOptions & { format: string }, command: Command) => {
      if (!['json', 'dotenv', 'shell'].includes(options.format))
        throw new UsageError('--format takes json, dotenv or shell');
      // --json is --format json (the default); with another format it is a contradiction, not a choice.
      if (globals(command).json && options.format !== 'json')
        throw new UsageError(`--json and --format ${options.format} contradict each other: give one`);
      const body = await fetchSecrets(options, options.format as 'json' | 'dotenv' | 'shell');
      if (options.format === 'json') {
        const { secrets } = JSON.parse(body) as { secrets: Record<string, string> };
        printJson(secrets);
      } else process.stdout.write(body);
    });

  program
    .command('run')
    .description('run a command with the secrets in its environment: secretsfly run -- <command> [args…]')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--master-key-file <path>', 'file holding the master key')
    .passThroughOptions()
    .action(async (argv: string[], options: ClientOptions) => {
      const [file, ...args] = argv;
      if (!file) throw new UsageError('nothing to run: secretsfly run -- <command> [args…]');
      const { secrets } = JSON.parse(await fetchSecrets(options, 'json')) as { secrets: Record<string, string> };
      // No prototype: assigning `env.__proto__` on a plain object would set its prototype, not a variable.
      const env: NodeJS.ProcessEnv = Object.create(null);
      for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SECRETSFLY_')) env[name] = value;
      for (const [name, value] of Object.entries(secrets)) {
        // The server refuses NUL at write, but an older value may hold one: name it rather than fail obscurely.
        if (value.includes('\0'))
          throw new CliError(`the value of ${name} holds a NUL character, which no environment variable can hold`);
        env[name] = value;
      }

      // Directly, never through a shell: arguments are passed as they are.
      const child = spawn(file, args, { env, stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
      const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
      for (const [signal, handler] of handlers) process.on(signal, handler);
      const code = await new Promise<number>((resolve, reject) => {
        child.on('error', (error: NodeJS.ErrnoException) =>
          reject(
            new CliError(
              error.code === 'ENOENT' ? `command not found: ${file}` : `cannot run ${file}: ${error.message}`,
            ),
          ),
        );
        child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)));
      }).finally(() => {
        for (const [signal, handler] of handlers) process.off(signal, handler);
      });
      process.exitCode = code;
    });
}

const osSignals: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};
