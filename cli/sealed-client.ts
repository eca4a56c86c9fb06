import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseKeyedToken, tokenProof } from '../src/crypto/scoped-keys.js';
import {
  openSealedPull,
  type OpenedSecret,
  type PullMemory,
  resolveSealedReferences,
  SealedPullRefused,
} from '../src/secrets/sealed-pull.js';
import {
  describeAge,
  type FallbackCopy,
  fallbackFile,
  forgetFallback,
  loadFallback,
  saveFallback,
} from './fallback.js';
import { CliError, say } from './io.js';
import { callServer, ServerRefused, ServerUnavailable } from './server-client.js';

/**
 * The zero-knowledge pull from the client's side (docs/crypto.md): only the token's authentication
 * key leaves this process; the wrapping key stays here, and the values are decrypted here.
 */

/**
 * Where the versions last received are kept (per server and token; no value, no key), for the
 * rollback check: $SECRETSFLY_STATE_DIR, else $XDG_STATE_HOME/secretsfly, else ~/.local/state/secretsfly.
 */
export function stateDir(): string {
  if (process.env.SECRETSFLY_STATE_DIR) return process.env.SECRETSFLY_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'secretsfly');
}

function memoryFile(url: string, tokenId: string): string {
  const name = createHash('sha256').update(`${url}\n${tokenId}`).digest('hex').slice(0, 32);
  return path.join(stateDir(), 'pulls', `${name}.json`);
}

/**
 * The folder of the memory files, made 0700 if missing. One that is a symlink, another user's, or
 * open to others is refused: whoever can write there could plant links that make us overwrite
 * their target, or a memory that refuses every answer.
 */
function privateFolder(folder: string, { create }: { create: boolean }): boolean {
  if (create) fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const mine = process.getuid === undefined || stat.uid === process.getuid();
  if (!stat.isDirectory() || !mine || (stat.mode & 0o077) !== 0) {
    throw new CliError(
      `${folder} must be a folder of yours that nobody else can open (chmod 700), or set SECRETSFLY_STATE_DIR elsewhere`,
    );
  }
  return true;
}

/** The folders of `file`, checked (and made, with `create`); false when they do not exist yet. */
function privateFolders(file: string, options: { create: boolean }): boolean {
  return privateFolder(stateDir(), options) && privateFolder(path.dirname(file), options);
}

function readMemory(file: string): PullMemory | undefined {
  let text: string;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as PullMemory;
    if (typeof parsed.versions === 'object' && parsed.versions !== null) return parsed;
  } catch {
    // fall through
  }
  throw new CliError(`${file} is damaged: delete it (it only holds the versions of the last pull)`);
}

/**
 * Written to a new file (random name, created exclusively: never through a planted link) then
 * renamed over the old, so a crash never leaves half a file.
 */
function writeMemory(file: string, memory: PullMemory): void {
  const temporary = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(memory)}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temporary, file);
}

/** `run`'s fallback on the last sealed answer (fallback.ts): how old it may be, and where it is kept. */
export interface FallbackOptions {
  readonly maxAgeSeconds: number;
  readonly file?: string | undefined;
}

/**
 * GET /api/v1/secrets?format=sealed with the token's proof, verified and decrypted here. Every
 * verified answer is kept as the sealed copy; with `fallback`, an unreachable or failing server
 * (never a refusal) makes it use that copy, verified the same way, and say so.
 */
export async function pullSealed(
  url: string,
  token: string,
  fallback?: FallbackOptions,
): Promise<Map<string, OpenedSecret>> {
  const keys = parseKeyedToken(token);
  if (!keys) throw new CliError('SECRETSFLY_TOKEN is not a valid keyed token (sfst_k1_…): copy it again');
  const copyFile = fallbackFile(url, keys.id, fallback?.file);
  try {
    let body: string;
    let copy: FallbackCopy | undefined;
    try {
      body = await callServer(`${url}/api/v1/secrets?format=sealed`, {
        headers: { authorization: `Bearer ${tokenProof(keys.id, keys.authKey)}` },
      });
    } catch (error) {
      // A revoked or refused token must stop working, even if the server is down next time.
      if (error instanceof ServerRefused && (error.status === 401 || error.status === 403)) forgetFallback(copyFile);
      if (!fallback || !(error instanceof ServerUnavailable)) throw error;
      try {
        copy = loadFallback(copyFile, url, keys.id, fallback.maxAgeSeconds);
      } catch (unusable) {
        throw new CliError(`${error.message}, and ${(unusable as Error).message}`);
      }
      body = copy.body;
    }
    const file = memoryFile(url, keys.id);
    let opened;
    try {
      // Nothing is created before the answer verified: a refused pull leaves the state folder as it was.
      const previous = privateFolders(file, { create: false }) ? readMemory(file) : undefined;
      opened = openSealedPull(body, { id: keys.id, wrappingKey: keys.wrappingKey }, previous);
      if (copy) {
        const age = describeAge((Date.now() - copy.savedAt.getTime()) / 1000);
        say(`warning: ${new URL(url).origin} is unreachable or failing: using the sealed copy of the pull ${age} ago`);
      } else {
        privateFolders(file, { create: true });
        writeMemory(file, opened.memory);
        try {
          saveFallback(copyFile, url, keys.id, body);
        } catch {
          // Only a cache: a host that cannot keep it still pulls; it just has nothing to fall back on.
        }
      }
    } catch (error) {
      if (!(error instanceof SealedPullRefused)) throw error;
      const restored = error.message.includes('went back')
        ? ` (if the server was restored from a backup, delete ${file})`
        : '';
      throw new CliError(`${error.message}${restored}`);
    }
    // After the answer is kept: it verified, and a reference that does not resolve is the data's fault.
    return await resolveSealedReferences(opened);
  } finally {
    keys.authKey.fill(0);
    keys.wrappingKey.fill(0);
  }
}
