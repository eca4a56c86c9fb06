import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecryptionFailed, open, seal } from '../../src/crypto/aead.js';
import { decodeKey43 } from '../../src/crypto/scoped-keys.js';
import { CliError } from '../io.js';
import { readPrivateFileAt, syncDir } from '../user-config.js';

/**
 * The agent's file of host-held secrets (README, "Host-held secrets"): one XChaCha20-Poly1305 blob
 * (src/crypto/aead.ts) in AGENT_DATA_DIR, under AGENT_SECRET_KEY or a random key generated once into
 * AGENT_DATA_DIR/agent.key (0600). Every change replaces the whole file atomically: a temporary file,
 * fsync, rename over the old one, fsync of the folder. A crash or kill -9 at any point leaves the old
 * file or the new one, never a torn one. Changes are serialised by a lock file holding the pid.
 */

export interface HeldSecret {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly project: string;
  readonly environment: string;
  readonly value: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Which project and environment a token (by server and token id) is for, as its server said. */
export interface KnownScope {
  readonly project: string;
  readonly environment: string;
}

export interface AgentStore {
  readonly version: 1;
  readonly secrets: readonly HeldSecret[];
  /** By `scopeKey(url, token)`: what lets `run` pick its scope's secrets without asking the server. */
  readonly scopes: Readonly<Record<string, KnownScope>>;
}

const STORE_FILE = 'secrets.enc';
const KEY_FILE = 'agent.key';
const LOCK_FILE = 'lock';
const AAD = new TextEncoder().encode(JSON.stringify(['sf-agent-store-v1']));
const EMPTY: AgentStore = { version: 1, secrets: [], scopes: {} };

/** AGENT_DATA_DIR, else $XDG_DATA_HOME/secretsfly/agent, else ~/.local/share/secretsfly/agent. */
export function agentDataDir(): string {
  const configured = process.env.AGENT_DATA_DIR?.trim();
  if (configured) return path.resolve(configured);
  const xdg = process.env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'secretsfly', 'agent');
}

export const storeFile = (dir: string) => path.join(dir, STORE_FILE);

/** The key of a token's scope in `scopes`: the server and the token's public id, never its secret. */
export function scopeKey(url: string, token: string): string | undefined {
  const id = /^sf(?:st|zk)_(?:k1_)?([0-9a-f]{16})_/.exec(token)?.[1];
  return id && `${url} ${id}`;
}

function ensureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CliError(`cannot create AGENT_DATA_DIR ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** 32 bytes from AGENT_SECRET_KEY: 64 hex digits or 43 base64url characters. */
function keyFromEnvironment(text: string): Uint8Array {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return new Uint8Array(Buffer.from(trimmed, 'hex'));
  const decoded = decodeKey43(trimmed);
  if (decoded) return decoded;
  throw new CliError(
    'AGENT_SECRET_KEY must be 32 random bytes as 64 hex digits or 43 base64url characters (e.g. openssl rand -hex 32)',
  );
}

/** A private file's text (latin1: the store is binary): the user-config reader's checks. */
const readPrivate = (file: string): string | undefined => readPrivateFileAt(file)?.toString('latin1');

/**
 * The file's key: AGENT_SECRET_KEY, else agent.key, else (`create`, and only while no secrets file
 * exists: a new key would orphan it) a new random key written once, 0600, by the first process.
 */
export function loadKey(dir: string, options: { create: boolean }): Uint8Array | undefined {
  const fromEnvironment = process.env.AGENT_SECRET_KEY;
  if (fromEnvironment) return keyFromEnvironment(fromEnvironment);
  const keyFile = path.join(dir, KEY_FILE);
  const stored = readPrivate(keyFile);
  if (stored !== undefined) {
    const key = decodeKey43(stored.trim());
    if (!key) throw new CliError(`${keyFile} is not a secretsfly agent key (43 base64url characters)`);
    return key;
  }
  if (fs.existsSync(storeFile(dir))) {
    throw new CliError(
      `${storeFile(dir)} exists but its key does not: set AGENT_SECRET_KEY, or put its agent.key back in ${dir}`,
    );
  }
  if (!options.create) return undefined;
  ensureDir(dir);
  const key = new Uint8Array(randomBytes(32));
  const temp = path.join(dir, `.${KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, `${Buffer.from(key).toString('base64url')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // link, not rename: it fails when another process made the key first, whose key then wins.
    fs.linkSync(temp, keyFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new CliError(`cannot write ${keyFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    key.fill(0);
    return loadKey(dir, options);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  syncDir(dir);
  return key;
}

/** The secrets and known scopes; an empty store when there is no file yet. */
export function readStore(dir: string, key: Uint8Array | undefined): AgentStore {
  const file = storeFile(dir);
  const text = readPrivate(file);
  if (text === undefined) return EMPTY;
  if (!key) throw new CliError(`${file} exists but its key does not: set AGENT_SECRET_KEY`);
  let plaintext: Uint8Array;
  try {
    plaintext = open(key, new Uint8Array(Buffer.from(text, 'latin1')), AAD);
  } catch (error) {
    if (!(error instanceof DecryptionFailed)) throw error;
    throw new CliError(`${file} does not open with this key (AGENT_SECRET_KEY, or ${path.join(dir, KEY_FILE)})`);
  }
  try {
    const store = JSON.parse(
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plaintext),
    ) as AgentStore;
    if (store.version !== 1 || !Array.isArray(store.secrets)) throw new Error('shape');
    return { version: 1, secrets: store.secrets, scopes: store.scopes ?? {} };
  } catch {
    throw new CliError(`${file} opened but is not a secretsfly agent file`);
  } finally {
    plaintext.fill(0);
  }
}

/** Test-only, with NODE_ENV=test: stop at a point of the write so a test can kill -9 the process there. */
function testPause(point: 'before-rename' | 'after-rename'): void {
  if (process.env.NODE_ENV !== 'test' || process.env.SECRETSFLY_TEST_AGENT_PAUSE !== point) return;
  process.stderr.write(`agent: paused ${point}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}

/** Replaces the file atomically (see the header). Call it holding the lock. */
export function writeStore(dir: string, key: Uint8Array, store: AgentStore): void {
  ensureDir(dir);
  const file = storeFile(dir);
  const plaintext = new TextEncoder().encode(JSON.stringify(store));
  const blob = seal(key, plaintext, AAD);
  plaintext.fill(0);
  const temp = path.join(dir, `.${STORE_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx', 0o600);
    fs.writeFileSync(fd, blob);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    testPause('before-rename');
    fs.renameSync(temp, file);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw new CliError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  testPause('after-rename');
  syncDir(dir);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Runs `fn` holding AGENT_DATA_DIR's lock, so two commands never both read, change and write the
 * file (one change would be lost). A lock left by a killed process (its pid gone) is taken over,
 * and so are the temporary files it left.
 */
export async function withStoreLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  ensureDir(dir);
  const lock = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CliError(`cannot lock ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const holder = Number(fs.readFileSync(lock, { encoding: 'utf8', flag: 'r' }) || '0');
      if (holder > 0 && !alive(holder)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new CliError(`another secretsfly agent command is changing ${dir} (pid ${holder || '?'}): try again`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`.${STORE_FILE}.`) && name.endsWith('.tmp')) fs.rmSync(path.join(dir, name), { force: true });
    }
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
