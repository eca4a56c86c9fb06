import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './io.js';

/**
 * The user's own secretsfly config: `$XDG_CONFIG_HOME/secretsfly` (default `~/.config/secretsfly`).
 * What is kept there (share creator keys, login tokens) opens things, so the folder is 0700, each
 * file 0600 and replaced atomically, and a file others could read or have planted is refused.
 */
export function configDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  // The XDG spec: a relative path is invalid and is ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'secretsfly');
}

const configFile = (name: string) => {
  if (name !== path.basename(name) || name.startsWith('.')) throw new Error(`not a config file name: ${name}`);
  return path.join(configDir(), name);
};

const uid = () => process.getuid?.();

/**
 * One JSON file of the user's config, or undefined when there is none. Refused (one line, exit 1)
 * when it is not a regular file of this user, or group or others may read or write it.
 */
export function readPrivateJson<T>(name: string): T | undefined {
  return readPrivateJsonAt<T>(configFile(name));
}

/** readPrivateJson for a file anywhere (a sealed copy kept where `run --fallback` says). */
export function readPrivateJsonAt<T>(file: string): T | undefined {
  const bytes = readPrivateFileAt(file);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new CliError(`${file} is not valid JSON: fix or remove it`);
  }
}

/**
 * The bytes of a private file, or undefined when there is none: refused (one line) when it is a
 * symbolic link, not a regular file of this user, or group or others may read or write it. The
 * user's config, the sealed copies and the agent's store and key are all read through it.
 */
export function readPrivateFileAt(file: string): Buffer | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted in the user's config is refused, not followed.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new CliError(`${file} is a symbolic link: refusing to read it (remove it)`);
    throw new CliError(`${file} cannot be read (${code ?? 'error'})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CliError(`${file} is not a regular file: refusing to read it`);
    const me = uid();
    if (me !== undefined && stat.uid !== me)
      throw new CliError(`${file} belongs to another user (uid ${stat.uid}): refusing to read it`);
    if (me !== undefined && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new CliError(`${file} can be read or changed by others (mode ${mode}): refusing it; run chmod 600 ${file}`);
    }
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces one JSON file of the user's config atomically: a 0600 temporary file beside it, written
 * and flushed, then renamed over it; a crash leaves the old file or the new one, never half of one.
 */
export function writePrivateJson(name: string, data: unknown): void {
  writePrivateJsonAt(configFile(name), data);
}

/** writePrivateJson for a file anywhere; its folder is made 0700 when missing. */
export function writePrivateJsonAt(file: string, data: unknown): void {
  writePrivateFileAt(file, `${JSON.stringify(data, null, 2)}\n`);
}

/**
 * Replaces a private file whole: a 0600 temporary file beside it (never an existing one), written
 * and flushed, renamed over it, then the folder flushed; its folder is made 0700 when missing. A
 * crash leaves the old file or the new one, never half of one.
 */
export function writePrivateFileAt(file: string, body: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const name = path.basename(file);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CliError(`cannot create ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const temp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx', 0o600);
    fs.writeFileSync(fd, body);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw new CliError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  syncDir(dir);
}

/** Makes a rename or a new file in `dir` durable; best effort (not every platform can open a folder). */
export function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // the data itself is flushed; only the folder entry may wait for the system's own flush
  }
}
