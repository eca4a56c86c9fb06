import fs from 'node:fs';
import os from 'node:os';
import type { Actor } from '../src/audit/audit.service.js';
import { AppError } from '../src/errors.js';
import { presentedMasterKey } from '../src/keys/master-key.js';

/** A failure the user can fix; printed as one line, exit 1. */
export class CliError extends AppError {
  constructor(message: string) {
    super('cli_error', message);
  }
}

/** Wrong use of the command line; printed as one line, exit 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super('usage', message);
  }
}

export const cliActor = (): Actor => ({ name: `cli:${os.userInfo().username}` });

const strict = new TextDecoder('utf-8', { fatal: true });
// A secret's value is taken byte for byte: a leading U+FEFF is part of it, not an encoding mark to drop.
const exact = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array, what: string, decoder = strict): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new CliError(`${what} is not UTF-8 text`);
  }
}

/** Exactly the bytes given, except one trailing newline (LF or CRLF). */
export function dropOneTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

export function readTextFile(file: string, what = file, decoder = strict): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new CliError(`${what} ${reason}`);
  }
  return decodeUtf8(bytes, what, decoder);
}

export async function readStdin(decoder = strict): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return decodeUtf8(Buffer.concat(chunks), 'standard input', decoder);
}

export async function promptHidden(prompt: string): Promise<string> {
  // Loaded only when a prompt is shown: every command's start-up (--help included) skips it.
  const { read } = await import('read');
  return String(await read({ prompt, silent: true, replace: '', output: process.stderr }));
}

/**
 * The master key as bytes, from `--master-key-file`, else SECRETSFLY_MASTER_KEY, else a hidden prompt.
 * The caller wipes the bytes when done.
 */
export async function readMasterKey(options: { masterKeyFile?: string }): Promise<Uint8Array> {
  return presentedMasterKey(await readMasterKeyText(options));
}

/** The same lookup, as text: only for sending it to a server in the X-Master-Key header. */
export async function readMasterKeyText(options: { masterKeyFile?: string }, prompt = 'Master key: '): Promise<string> {
  let key: string | undefined;
  if (options.masterKeyFile !== undefined) {
    key = dropOneTrailingNewline(readTextFile(options.masterKeyFile, 'the master key file'));
  } else if (process.env.SECRETSFLY_MASTER_KEY) {
    key = process.env.SECRETSFLY_MASTER_KEY;
  } else if (process.stdin.isTTY) {
    key = await promptHidden(prompt);
  }
  if (!key) {
    throw new CliError('no master key: pass --master-key-file, set SECRETSFLY_MASTER_KEY, or run in a terminal');
  }
  return key;
}

export async function withMasterKey<T>(
  options: { masterKeyFile?: string },
  fn: (key: Uint8Array) => Promise<T>,
): Promise<T> {
  const key = await readMasterKey(options);
  try {
    return await fn(key);
  } finally {
    key.fill(0);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Aligned columns; an empty table prints `empty` (to stderr, so stdout stays parseable). */
export function printTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number | null)[])[],
  empty: string,
): void {
  if (rows.length === 0) {
    process.stderr.write(`${empty}\n`);
    return;
  }
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  for (const row of cells) {
    process.stdout.write(
      `${row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

export const say = (message: string) => process.stderr.write(`${message}\n`);

/** A value from the argument, a file, or stdin: byte for byte, except one trailing newline. */
export async function valueFrom(argument: string | undefined, fromFile: string | undefined): Promise<string> {
  if (argument !== undefined && fromFile !== undefined)
    throw new UsageError('give the value as an argument or --from-file, not both');
  if (argument !== undefined) return argument;
  if (fromFile !== undefined) return dropOneTrailingNewline(readTextFile(fromFile, fromFile, exact));
  if (process.stdin.isTTY) process.stderr.write('Value (end with Ctrl-D): ');
  return dropOneTrailingNewline(await readStdin(exact));
}
