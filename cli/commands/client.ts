import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { CliError, readTextFile, dropOneTrailingNewline, UsageError, promptHidden } from '../io.js';

interface ClientOptions {
  masterKeyFile?: string;
}

/** SECRETSFLY_URL, SECRETSFLY_TOKEN and the master key (file, SECRETSFLY_MASTER_KEY, or a prompt). */
async function clientSettings(options: ClientOptions) {
  const url = process.env.SECRETSFLY_URL;
  const token = process.env.SECRETSFLY_TOKEN;
  if (!url) throw new CliError('SECRETSFLY_URL is not set (e.g. https://secrets.example.com)');
  if (!token) throw new CliError('SECRETSFLY_TOKEN is not set');
  let masterKey =
    options.masterKeyFile !== undefined
      ? dropOneTrailingNewline(readTextFile(options.masterKeyFile, 'the master key file'))
      : process.env.SECRETSFLY_MASTER_KEY;
  if (!masterKey && process.stdin.isTTY) masterKey = await promptHidden('Master key: ');
  if (!masterKey) throw new CliError('no master key: set SECRETSFLY_MASTER_KEY or pass --master-key-file');
  return { url: url.replace(/\/+$/, ''), token, masterKey };
}

/** GET /api/v1/secrets; any failure is one line naming what the server said. */
async function fetchSecrets(options: ClientOptions, format: 'json' | 'dotenv' | 'shell'): Promise<string> {
  const { url, token, masterKey } = await clientSettings(options);
  let response: Response;
  try {
    response = await fetch(`${url}/api/v1/secrets${format === 'json' ? '' : `?format=${format}`}`, {
      headers: { authorization: `Bearer ${token}`, 'x-master-key': masterKey, 'user-agent': 'secretsfly-cli' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new CliError(`cannot reach ${url}: ${reason}`);
  }
  const body = await response.text();
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) message = `${parsed.error.message} (${parsed.error.code}, HTTP ${response.status})`;
    } catch {
      // not our JSON: keep the status alone
    }
    throw new CliError(`the server refused: ${message}`);
  }
  return body;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function registerClientCommands(program: Command): void {
  program
    .command('pull')
    .description('print the resolved secrets of the token\'s project and environment')
    .option('--format <format>', 'json, dotenv or shell', 'json')
    .option('--master-key-file <path>', 'file holding the master key')
    .action(async (options: ClientOptions & { format: string }) => {
      if (!['json', 'dotenv', 'shell'].includes(options.format)) throw new UsageError('--format takes json, dotenv or shell');
      const body = await fetchSecrets(options, options.format as 'json' | 'dotenv' | 'shell');
      if (options.format === 'json') {
        const { secrets } = JSON.parse(body) as { secrets: Record<string, string> };
        process.stdout.write(`${JSON.stringify(secrets, null, 2)}\n`);
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
      const env: NodeJS.ProcessEnv = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith('SECRETSFLY_')),
      );
      Object.assign(env, secrets);

      // Directly, never through a shell: arguments are passed as they are.
      const child = spawn(file, args, { env, stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
      const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
      for (const [signal, handler] of handlers) process.on(signal, handler);
      const code = await new Promise<number>((resolve, reject) => {
        child.on('error', (error: NodeJS.ErrnoException) =>
          reject(new CliError(error.code === 'ENOENT' ? `command not found: ${file}` : `cannot run ${file}: ${error.message}`)),
        );
        child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)));
      }).finally(() => {
        for (const [signal, handler] of handlers) process.off(signal, handler);
      });
      process.exitCode = code;
    });
}

const osSignals: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };
