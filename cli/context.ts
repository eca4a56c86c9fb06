import type { Command } from 'commander';
import { loadConfig } from '../src/config.js';
import type { KdfParams } from '../src/crypto/kdf.js';
import type { AppContext } from '../src/main.js';

export interface GlobalOptions {
  json?: boolean;
}

/**
 * Test-only, and only with both variables set: SECRETSFLY_TEST_KDF=fast and NODE_ENV=test give the root
 * keys this CLI creates or rotates a cheap scrypt (2^12), so the CLI test suite does not spend a third
 * of a second per process. Needing both means one stray variable can never weaken a key in
 * production (the Docker image sets NODE_ENV=production; `serve` never reads this). The cost is
 * stored with each root, so roots made without it keep the real one.
 */
const testKdf = (): { kdfParams?: KdfParams } =>
  process.env.SECRETSFLY_TEST_KDF === 'fast' && process.env.NODE_ENV === 'test'
    ? { kdfParams: { alg: 'scrypt', v: 1, N: 2 ** 12, r: 8, p: 1 } }
    : {};

/**
 * Opens DATA_DIR's existing database (migrating it and creating the configured environments), runs
 * `fn`, then seals and closes. A missing database is one error naming where it was looked for: run
 * from the wrong directory, a command would otherwise quietly make a new, empty database there and
 * report on it ("no projects yet").
 */
export function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  return runWithContext(fn, false);
}

/** withContext for the commands that start an installation (migrate, user create, project create). */
export function withNewOrExistingContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  return runWithContext(fn, true);
}

async function runWithContext<T>(fn: (ctx: AppContext) => Promise<T>, create: boolean): Promise<T> {
  // Loaded here, not at start-up: `--help`, `--version` and the client commands never pay for the
  // whole application (database driver, services, HTTP stack).
  const { createContext } = await import('../src/main.js');
  const ctx = await createContext(loadConfig(), testKdf(), { create });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();
