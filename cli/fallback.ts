import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { configDir } from './user-config.js';
import { CliError } from './io.js';

/**
 * The last sealed (zero-knowledge) answer of each server and token, kept so that `run` can start an
 * app while the server is unreachable or failing (issue 15). The answer holds ciphertexts, their
 * bindings and the token's wrapped environment key: no value and no key. Only the token opens it,
 * and the copy is verified exactly like a live answer (src/secrets/sealed-pull.ts).
 *
 * Kept in $XDG_CONFIG_HOME/secretsfly/fallback/ (beside the logins), one 0600 file per server and
 * token, replaced after every verified pull, deleted when the server refuses the token (401/403):
 * a revoked token must stop working even if the server is down the next time.
 */

export interface FallbackCopy {
  readonly body: string;
  readonly savedAt: Date;
  readonly file: string;
}

export const DEFAULT_FALLBACK_MAX_AGE_SECONDS = 7 * 86_400;

export function fallbackFile(url: string, tokenId: string, explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  const name = createHash('sha256').update(`${url}\n${tokenId}`).digest('hex').slice(0, 32);
  return path.join(configDir(), 'fallback', `${name}.json`);
}

/** Replaces the copy (a new private file, renamed over the old one). */
export function saveFallback(file: string, url: string, tokenId: string, body: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  const content = { version: 1, url, token_id: tokenId, saved_at: new Date().toISOString(), body };
  fs.writeFileSync(temporary, `${JSON.stringify(content)}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temporary, file);
}

export function forgetFallback(file: string): void {
  fs.rmSync(file, { force: true });
}

/** The copy for this server and token, or why there is none to use. */
export function loadFallback(file: string, url: string, tokenId: string, maxAgeSeconds: number): FallbackCopy {
  let text: string;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const stat = fs.fstatSync(fd);
      if ((stat.mode & 0o077) !== 0 || (process.getuid !== undefined && stat.uid !== process.getuid())) {
        throw new CliError(`${file} is open to other users: remove it (it is only a cache)`);
      }
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError('there is no sealed copy of an earlier pull to fall back on');
    throw new CliError(`cannot read the sealed copy ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  let parsed: { url?: unknown; token_id?: unknown; saved_at?: unknown; body?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new CliError(`the sealed copy ${file} is damaged: remove it`);
  }
  const savedAt = new Date(String(parsed.saved_at));
  if (
    parsed.url !== url ||
    parsed.token_id !== tokenId ||
    typeof parsed.body !== 'string' ||
    Number.isNaN(savedAt.getTime())
  ) {
    throw new CliError(`the sealed copy ${file} is for another server or token: remove it`);
  }
  const ageSeconds = (Date.now() - savedAt.getTime()) / 1000;
  if (ageSeconds > maxAgeSeconds) {
    throw new CliError(
      `the sealed copy is ${describeAge(ageSeconds)} old, older than --fallback-max-age allows (${describeAge(maxAgeSeconds)}): bring the server back, or allow an older copy with --fallback-max-age`,
    );
  }
  return { body: parsed.body, savedAt, file };
}

export function describeAge(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}
