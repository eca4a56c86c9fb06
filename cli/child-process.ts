import { spawn } from 'node:child_process';
import { CliError } from './io.js';
import type { ChildRun } from './watch.js';

/** How `run` starts its command and hands it the secrets. */

/** What `run` passes on to its command rather than act on itself. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * The child's environment: ours without the SECRETSFLY_ variables (none of it with --no-inherit-env),
 * plus the secrets, which override what ours sets unless --preserve-env.
 */
export function childEnv(
  secrets: ReadonlyMap<string, string>,
  how: { inherit: boolean; preserve: boolean },
): NodeJS.ProcessEnv {
  // No prototype: assigning `env.__proto__` on a plain object would set its prototype, not a variable.
  const env: NodeJS.ProcessEnv = Object.create(null);
  if (how.inherit) {
    for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SECRETSFLY_')) env[name] = value;
  }
  for (const [name, value] of secrets) {
    if (how.preserve && env[name] !== undefined) continue;
    // The server refuses NUL at write, but an older value may hold one: name it rather than fail obscurely.
    if (value.includes('\0'))
      throw new CliError(`the value of ${name} holds a NUL character, which no environment variable can hold`);
    env[name] = value;
  }
  return env;
}

/** The command started directly, never through a shell (arguments are passed as they are), and its exit code. */
export function launchChild(file: string, args: string[], env: NodeJS.ProcessEnv): ChildRun {
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
