import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { KdfParams } from '../../src/crypto/kdf.js';
import { type AppContext, type ContextOverrides, createContext } from '../../src/main.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/secretsfly.js');

/**
 * Cheap scrypt for tests; the parameters are stored per root like real ones. runCli gives the CLI the
 * same (cli/context.ts); test/cli/cli.test.ts proves the real cost is used without it.
 */
export const FAST_KDF: KdfParams = { alg: 'scrypt', v: 1, N: 2 ** 12, r: 8, p: 1 };

/** What runCli sets unless a test overrides it: the CLI's test-only cheap KDF (both are required). */
export const CLI_FAST_KDF_ENV = { NODE_ENV: 'test', SECRETSFLY_TEST_KDF: 'fast' } as const;

export const actor = { name: 'test' };

export function tempDir(prefix = 'secretsfly-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function createTestContext(
  options: { env?: Record<string, string>; overrides?: ContextOverrides } = {},
): Promise<AppContext & { dataDir: string; dispose(): Promise<void> }> {
  const dataDir = tempDir();
  const config = loadConfig({ DATA_DIR: dataDir, AVAILABLE_ENVIRONMENTS: 'prod,staging', ...options.env });
  const ctx = await createContext(config, { kdfParams: FAST_KDF, ...options.overrides });
  return Object.assign(ctx, {
    dataDir,
    async dispose() {
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export const bytes = (text: string) => new TextEncoder().encode(text);

/** Every row of every table, for "this changed nothing" assertions. */
export function snapshotDatabase(dataDir: string): Record<string, unknown[]> {
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'), { readonly: true });
  try {
    const tables = sqlite.prepare("select name from sqlite_master where type = 'table' order by name").all() as {
      name: string;
    }[];
    return Object.fromEntries(tables.map(({ name }) => [name, sqlite.prepare(`select * from "${name}"`).all()]));
  } finally {
    sqlite.close();
  }
}

/** Runs raw SQL against DATA_DIR's database, as an attacker or a fault would. */
export function rawSql(dataDir: string, statements: string): void {
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'));
  try {
    sqlite.exec(statements);
  } finally {
    sqlite.close();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real CLI in a child process (the compiled build, as users run it), with the cheap test KDF for
 * new root keys: pass `SECRETSFLY_TEST_KDF: undefined` in `env` for the real cost.
 */
export function runCli(
  args: readonly string[],
  options: {
    dataDir: string;
    env?: Record<string, string | undefined>;
    input?: string | Buffer;
    /** Where the CLI runs (default: this process's directory). */
    cwd?: string;
  } = { dataDir: '' },
): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(options.dataDir !== '' && { DATA_DIR: options.dataDir }),
    ...CLI_FAST_KDF_ENV,
    ...options.env,
  };
  return runProcess(process.execPath, [BIN, ...args], { env, input: options.input, cwd: options.cwd });
}

/** Runs any program to its end with exactly `env`, feeding it `input`; its output as text. */
export function runProcess(
  file: string,
  args: readonly string[],
  options: { env: Record<string, string | undefined>; input?: string | Buffer | undefined; cwd?: string | undefined },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      env: options.env as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Every file below `dir` (database, WAL, SHM, session secret …), as raw bytes. */
export function readAllFiles(dir: string): { file: string; content: Buffer }[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { file, content: fs.readFileSync(file) };
    });
}

/** A root_keys row as SQLite returns it, for tests that attack the stored key material. */
export interface StoredRootKey {
  project_id: string;
  kdf: string;
  salt: Buffer;
  wrapped_dek: Buffer;
  key_version: number;
}

/** A CLI run that must have succeeded, with no unexpected error: returned for its output. */
export function succeeded(result: CliResult): CliResult {
  expect(result.stderr.includes('unexpected'), result.stderr).toBe(false);
  expect(result.code, result.stderr).toBe(0);
  return result;
}
