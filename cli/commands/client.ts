import type { Command } from 'commander';
import { childEnv, FORWARDED_SIGNALS, launchChild } from '../child-process.js';
import { writePrivateFileAt } from '../user-config.js';
import { globals } from '../context.js';
import { CliError, readMasterKeyText, say, UsageError } from '../io.js';
import { PULL_FORMATS, type PullFormat } from '../../src/formats/names.js';
import { clientCredentials } from '../client-config.js';
import { callServer } from '../server-client.js';
import type { FallbackOptions } from '../sealed-client.js';
import { PrivateFiles } from '../private-files.js';
import {
  expandAll,
  fileMaterial,
  isStructuredType,
  type TypedValue,
  typedJson,
} from '../../src/secrets/typed-secrets.js';

interface ClientOptions {
  masterKeyFile?: string;
  /** Only these keys (--only), or all but these (--exclude). */
  only?: string[] | undefined;
  exclude?: string[] | undefined;
  /** run only: fall back on the last sealed copy when the server is unreachable or failing. */
  fallback?: FallbackOptions | undefined;
  /** run only: add the values this host holds (cli/agent/run-merge.ts). */
  hostHeld?: boolean;
}

type Format = PullFormat;

const FORMAT_NAMES = PULL_FORMATS.join(', ');

const isKeyedToken = (token: string): boolean => token.startsWith('sfst_k1_');

/** GET /api/v1/secrets with a classic SECRETSFLY_TOKEN and the master key; any failure is one line. */
async function fetchClassic(url: string, token: string, options: ClientOptions): Promise<string> {
  const masterKey = await readMasterKeyText(options);
  return callServer(`${url}/api/v1/secrets`, {
    headers: { authorization: `Bearer ${token}`, 'x-master-key': masterKey },
  });
}

/** A pulled value: a string, or a typed secret's fields (`value` is then their JSON). */
interface PulledValue {
  readonly value: string;
  readonly typed?: TypedValue | undefined;
  /** A host-held value's type, as its agent was told (run-merge.ts): one string, whatever the type. */
  readonly heldType?: string | undefined;
}

/** Host-held types whose value is key material: a file with `run --files`, as a typed secret's would be. */
const HELD_FILE_TYPES: ReadonlySet<string> = new Set(['ssh_key', 'certificate']);

/**
 * The resolved values: with a keyed token by the zero-knowledge pull (decrypted here; no master key
 * needed), else with the classic token and the master key. `run` adds what this host holds.
 */
async function fetchPulled(options: ClientOptions): Promise<Map<string, PulledValue>> {
  const values = await fetchAllValues(options);
  return selectKeys(options.hostHeld ? (await import('../agent/run-merge.js')).mergeHostHeld(values) : values, options);
}

/**
 * The values as environment variables: a typed secret expanded into its variables (a name two keys
 * would set is refused by name); with `files`, its key and certificate material written to private
 * files instead, their paths exported as `<VAR>_FILE` (`run --files`).
 */
async function fetchValues(options: ClientOptions, files?: PrivateFiles): Promise<Map<string, string>> {
  const pulled = await fetchPulled(options);
  // The server's values expanded, then what this host holds over them: the host wins, also over a
  // variable of a typed secret (a held DB_PASSWORD over a credential DB's), each clash said by name.
  const env = expandAll(new Map([...pulled].filter(([, secret]) => secret.heldType === undefined)));
  for (const [key, secret] of pulled) {
    if (secret.heldType === undefined) continue;
    if (env.has(key))
      say(`secretsfly: ${key} is held on this host and also set from the server: the host's value is used`);
    env.set(key, secret.value);
  }
  if (files) {
    for (const [key, secret] of pulled) {
      const material = secret.typed
        ? fileMaterial(key, secret.typed)
        : secret.heldType !== undefined && HELD_FILE_TYPES.has(secret.heldType)
          ? [{ variable: key, content: asFile(secret.value) }]
          : [];
      for (const { variable, content } of material) {
        env.delete(variable);
        const name = `${variable}_FILE`;
        if (env.has(name)) throw new CliError(`${name} would be set by --files and by a key of that name: rename one`);
        env.set(name, files.write(variable, content));
      }
    }
  }
  return env;
}

/** PEM text as a file of it ends (fileMaterial does the same for typed secrets). */
const asFile = (text: string) => (text.startsWith('-----BEGIN') && !text.endsWith('\n') ? `${text}\n` : text);

/** --only and --exclude (of keys as stored: --only DB takes a typed DB's every variable); a key --only names that the scope does not have is a typo, said as one. */
function selectKeys<V>(values: Map<string, V>, options: ClientOptions): Map<string, V> {
  const missing = options.only?.filter((key) => !values.has(key)) ?? [];
  if (missing.length > 0) {
    throw new CliError(`--only names ${missing.join(', ')}, which this project and environment do not have`);
  }
  return new Map(
    [...values].filter(
      ([key]) => (options.only === undefined || options.only.includes(key)) && !options.exclude?.includes(key),
    ),
  );
}

async function fetchAllValues(options: ClientOptions): Promise<Map<string, PulledValue>> {
  // SECRETSFLY_URL and SECRETSFLY_TOKEN, else this folder's login (client-config.ts).
  const { url, token } = clientCredentials();
  if (isKeyedToken(token)) {
    // Loaded only here: the crypto it needs costs every other command nothing.
    const { pullSealed } = await import('../sealed-client.js');
    const opened = await pullSealed(url, token, options.fallback);
    return new Map([...opened].map(([key, secret]) => [key, { value: secret.value, typed: secret.typed }]));
  }
  const { secrets } = JSON.parse(await fetchClassic(url, token, options)) as {
    secrets: Record<string, string | Record<string, string>>;
  };
  return new Map(
    Object.entries(secrets).map(([key, value]): [string, PulledValue] => {
      if (typeof value === 'string') return [key, { value }];
      const { type, ...fields } = value;
      if (!type || !isStructuredType(type)) throw new CliError(`the server sent ${key} as an unknown type`);
      return [key, { value: JSON.stringify(value), typed: { type, fields } }];
    }),
  );
}

/**
 * The body `pull` prints, rendered here from the resolved values whatever the token (a classic one
 * fetches them as JSON), so both kinds print the same bytes for every format. JSON keeps a typed
 * secret whole (`{"type": …, <fields>}`); every other format has its variables.
 */
async function pullBody(options: ClientOptions, format: Format): Promise<string> {
  const { renderJson, renderValues } = await import('../render.js');
  if (format === 'json') {
    const pulled = await fetchPulled(options);
    return renderJson(
      new Map([...pulled].map(([key, secret]) => [key, secret.typed ? typedJson(secret.typed) : secret.value])),
    );
  }
  return renderValues(await fetchValues(options), format);
}

interface RunOptions {
  masterKeyFile?: string;
  only?: string[];
  exclude?: string[];
  preserveEnv?: boolean;
  /** false with --no-inherit-env. */
  inheritEnv: boolean;
  fallback?: string;
  fallbackMaxAge: string;
  watch?: boolean;
  watchGrace: string;
  files?: boolean;
}

/** `run`'s fallback settings; a classic token's answer is plaintext, so it is never kept or used. */
async function fallbackOptions(options: { fallback?: string; fallbackMaxAge: string }): Promise<FallbackOptions> {
  const { parseDuration } = await import('../../src/tokens/token-duration.js');
  let maxAgeSeconds: number;
  try {
    maxAgeSeconds = parseDuration(options.fallbackMaxAge);
  } catch {
    throw new UsageError('--fallback-max-age takes a number and s, m, h or d, e.g. 12h or 7d');
  }
  return { maxAgeSeconds, file: options.fallback };
}

/** `A,B , C` → ['A', 'B', 'C']. */
function keyList(text: string): string[] {
  const keys = text
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (keys.length === 0) throw new UsageError('--only and --exclude take key names, comma-separated');
  return keys;
}

export function registerClientCommands(program: Command): void {
  program
    .command('pull')
    .description(
      "print the resolved secrets of the token's project and environment (decrypted here with a keyed token)",
    )
    .option('--format <format>', FORMAT_NAMES, 'json')
    .option('--master-key-file <path>', 'file holding the master key (classic tokens only)')
    .option('--only <keys>', 'only these keys, comma-separated', keyList)
    .option('--exclude <keys>', 'all keys but these, comma-separated', keyList)
    .action(async (options: ClientOptions & { format: string }, command: Command) => {
      if (!(PULL_FORMATS as readonly string[]).includes(options.format))
        throw new UsageError(`--format takes ${FORMAT_NAMES}`);
      // --json is --format json (the default); with another format it is a contradiction, not a choice.
      if (globals(command).json && options.format !== 'json')
        throw new UsageError(`--json and --format ${options.format} contradict each other: give one`);
      process.stdout.write(await pullBody(options, options.format as Format));
    });

  // Doppler's name for the same thing; with a file, the body is written there (0600) instead of printed.
  program
    .command('secrets')
    .description("secrets of the token's scope, as Doppler names it (`secrets download`)")
    .command('download [file]')
    .description('pull, into a new private file (mode 0600) or to stdout without one')
    .option('--format <format>', FORMAT_NAMES, 'json')
    .option('--master-key-file <path>', 'file holding the master key (classic tokens only)')
    .option('--only <keys>', 'only these keys, comma-separated', keyList)
    .option('--exclude <keys>', 'all keys but these, comma-separated', keyList)
    .action(async (file: string | undefined, options: ClientOptions & { format: string }) => {
      if (!(PULL_FORMATS as readonly string[]).includes(options.format))
        throw new UsageError(`--format takes ${FORMAT_NAMES}`);
      const body = await pullBody(options, options.format as Format);
      if (file === undefined) {
        process.stdout.write(body);
        return;
      }
      writePrivateFileAt(file, body);
      process.stderr.write(`wrote ${body === '' ? 'nothing' : 'the secrets'} to ${file} (mode 0600)\n`);
    });

  program
    .command('run')
    .description('run a command with the secrets in its environment: secretsfly run -- <command> [args…]')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--master-key-file <path>', 'file holding the master key')
    .option('--fallback <file>', 'where the sealed copy of the last pull is kept (default: beside the config)')
    .option(
      '--fallback-max-age <age>',
      'the oldest sealed copy to start with when the server is down: 30m, 12h, 7d',
      '7d',
    )
    .option('--only <keys>', 'only these keys, comma-separated', keyList)
    .option('--exclude <keys>', 'all keys but these, comma-separated', keyList)
    .option('--preserve-env', 'keep the values the parent environment already sets: ours do not override them')
    .option('--no-inherit-env', 'a clean environment: the secrets alone, nothing of the parent environment')
    .option(
      '--files',
      'write key and certificate material of typed secrets to private files (0600) and export their paths as <VAR>_FILE',
    )
    .option('--watch', 'restart the command when a resolved value changes on the server')
    .option('--watch-grace <seconds>', 'with --watch: how long a restart waits after SIGTERM before SIGKILL', '10')
    .passThroughOptions()
    .action(async (argv: string[], runOptions: RunOptions) => {
      const [file, ...args] = argv;
      if (!file) throw new UsageError('nothing to run: secretsfly run -- <command> [args…]');
      const graceSeconds = Number(runOptions.watchGrace);
      if (!Number.isFinite(graceSeconds) || graceSeconds < 0 || runOptions.watchGrace.trim() === '')
        throw new UsageError('--watch-grace takes a number of seconds, e.g. 10');
      if (runOptions.preserveEnv && !runOptions.inheritEnv)
        throw new UsageError(
          '--preserve-env keeps values of the parent environment, which --no-inherit-env leaves out: give one',
        );
      const prepare = (secrets: ReadonlyMap<string, string>) => {
        const env = childEnv(secrets, { inherit: runOptions.inheritEnv, preserve: runOptions.preserveEnv === true });
        return () => launchChild(file, args, env);
      };
      const options: ClientOptions = {
        ...(runOptions.masterKeyFile !== undefined && { masterKeyFile: runOptions.masterKeyFile }),
        only: runOptions.only,
        exclude: runOptions.exclude,
        fallback: await fallbackOptions(runOptions),
        hostHeld: true,
      };
      const files = runOptions.files ? new PrivateFiles() : undefined;
      try {
        if (runOptions.watch) {
          const { url, token } = clientCredentials();
          const { runWatched } = await import('../watch.js');
          process.exitCode = await runWatched({
            url,
            token,
            graceMs: graceSeconds * 1000,
            fetchValues: () => fetchValues(options, files),
            prepare,
            signals: FORWARDED_SIGNALS,
          });
          return;
        }
        const run = prepare(await fetchValues(options, files))();
        const forward = (signal: NodeJS.Signals) => () => run.child.kill(signal);
        const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
        for (const [signal, handler] of handlers) process.on(signal, handler);
        process.exitCode = await run.exit.finally(() => {
          for (const [signal, handler] of handlers) process.off(signal, handler);
        });
      } finally {
        // The child has exited (or never started): its files go now.
        files?.remove();
      }
    });
}
