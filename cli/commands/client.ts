import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { globals } from '../context.js';
import { CliError, readMasterKeyText, UsageError } from '../io.js';
import { callServer, serverUrl } from '../server-client.js';
import type { ChildRun } from '../watch.js';

interface ClientOptions {
  masterKeyFile?: string;
}

type Format = 'json' | 'dotenv' | 'shell';

const isKeyedToken = (token: string): boolean => token.startsWith('sfst_k1_');

function tokenFromEnv(): string {
  const token = process.env.SECRETSFLY_TOKEN;
  if (!token) throw new CliError('SECRETSFLY_TOKEN is not set');
  return token;
}

/** GET /api/v1/secrets with a classic SECRETSFLY_TOKEN and the master key; any failure is one line. */
async function fetchClassic(token: string, options: ClientOptions, format: Format): Promise<string> {
  const masterKey = await readMasterKeyText(options);
  return callServer(`${serverUrl()}/api/v1/secrets${format === 'json' ? '' : `?format=${format}`}`, {
    headers: { authorization: `Bearer ${token}`, 'x-master-key': masterKey },
  });
}

/**
 * The resolved values: with a keyed token by the zero-knowledge pull (decrypted here; no master key
 * needed), else with the classic token and the master key.
 */
async function fetchValues(options: ClientOptions): Promise<Map<string, string>> {
  const url = serverUrl();
  const token = tokenFromEnv();
  if (isKeyedToken(token)) {
    // Loaded only here: the crypto it needs costs every other command nothing.
    const { pullSealed } = await import('../sealed-client.js');
    const opened = await pullSealed(url, token);
    return new Map([...opened].map(([key, secret]) => [key, secret.value]));
  }
  const { secrets } = JSON.parse(await fetchClassic(token, options, 'json')) as { secrets: Record<string, string> };
  return new Map(Object.entries(secrets));
}

/** The body `pull` prints: rendered here from a zero-knowledge pull, by the server otherwise. */
async function pullBody(options: ClientOptions, format: Format): Promise<string> {
  serverUrl(); // the first thing to fix, when nothing is set
  const token = tokenFromEnv();
  if (format !== 'json' && !isKeyedToken(token)) return fetchClassic(token, options, format);
  const values = await fetchValues(options);
  if (format === 'dotenv') return (await import('../../src/formats/dotenv.js')).toDotenv(values);
  if (format === 'shell') return (await import('../../src/formats/shell.js')).toShell(values);
  return `${JSON.stringify(Object.fromEntries(values), null, 2)}\n`;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export function registerClientCommands(program: Command): void {
  program
    .command('pull')
    .description(
      "print the resolved secrets of the token's project and environment (decrypted here with a keyed token)",
    )
    .option('--format <format>', 'json, dotenv or shell', 'json')
    .option('--master-key-file <path>', 'file holding the master key (classic tokens only)')
    .action(async (options: ClientOptions & { format: string }, command: Command) => {
      if (!['json', 'dotenv', 'shell'].includes(options.format))
        throw new UsageError('--format takes json, dotenv or shell');
      // --json is --format json (the default); with another format it is a contradiction, not a choice.
      if (globals(command).json && options.format !== 'json')
        throw new UsageError(`--json and --format ${options.format} contradict each other: give one`);
      process.stdout.write(await pullBody(options, options.format as Format));
    });

  program
    .command('run')
    .description('run a command with the secrets in its environment: secretsfly run -- <command> [args…]')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--master-key-file <path>', 'file holding the master key')
    .option('--watch', 'restart the command when a resolved value changes on the server')
    .option('--watch-grace <seconds>', 'with --watch: how long a restart waits after SIGTERM before SIGKILL', '10')
    .passThroughOptions()
    .action(async (argv: string[], options: ClientOptions & { watch?: boolean; watchGrace: string }) => {
      const [file, ...args] = argv;
      if (!file) throw new UsageError('nothing to run: secretsfly run -- <command> [args…]');
      const graceSeconds = Number(options.watchGrace);
      if (!Number.isFinite(graceSeconds) || graceSeconds < 0 || options.watchGrace.trim() === '')
        throw new UsageError('--watch-grace takes a number of seconds, e.g. 10');
      const prepare = (secrets: ReadonlyMap<string, string>) => {
        const env = childEnv(secrets);
        return () => launchChild(file, args, env);
      };
      if (options.watch) {
        const url = serverUrl();
        const token = tokenFromEnv();
        const { runWatched } = await import('../watch.js');
        process.exitCode = await runWatched({
          url,
          token,
          graceMs: graceSeconds * 1000,
          fetchValues: () => fetchValues(options),
          prepare,
          signals: FORWARDED_SIGNALS,
        });
        return;
      }
      const run = prepare(await fetchValues(options))();
      const forward = (signal: NodeJS.Signals) => () => run.child.kill(signal);
      const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
      for (const [signal, handler] of handlers) process.on(signal, handler);
      process.exitCode = await run.exit.finally(() => {
        for (const [signal, handler] of handlers) process.off(signal, handler);
      });
    });
}

/** The child's environment: ours without the SECRETSFLY_ variables, plus the secrets. */
function childEnv(secrets: ReadonlyMap<string, string>): NodeJS.ProcessEnv {
  // No prototype: assigning `env.__proto__` on a plain object would set its prototype, not a variable.
  const env: NodeJS.ProcessEnv = Object.create(null);
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SECRETSFLY_')) env[name] = value;
  for (const [name, value] of secrets) {
    // The server refuses NUL at write, but an older value may hold one: name it rather than fail obscurely.
    if (value.includes('\0'))
      throw new CliError(`the value of ${name} holds a NUL character, which no environment variable can hold`);
    env[name] = value;
  }
  return env;
}

/** The command started directly, never through a shell (arguments are passed as they are), and its exit code. */
function launchChild(file: string, args: string[], env: NodeJS.ProcessEnv): ChildRun {
  const child = spawn(file, args, { env, stdio: 'inherit' });
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(error.code === 'ENOENT' ? `command not found: ${file}` : `cannot run ${file}: ${error.message}`),
      ),
    );
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)));
  });
  return { child, exit };
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
