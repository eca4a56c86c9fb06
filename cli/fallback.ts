import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { configDir, readPrivateJsonAt, writePrivateJsonAt } from './user-config.js';
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

interface StoredCopy {
  readonly version: 1;
  readonly url: string;
  readonly token_id: string;
  readonly saved_at: string;
  readonly body: string;
}

/** Replaces the copy (a new private file, renamed over the old one: user-config.ts). */
export function saveFallback(file: string, url: string, tokenId: string, body: string): void {
  const copy: StoredCopy = { version: 1, url, token_id: tokenId, saved_at: new Date().toISOString(), body };
  writePrivateJsonAt(file, copy);
}

export function forgetFallback(file: string): void {
  fs.rmSync(file, { force: true });
}

/** The copy for this server and token, or why there is none to use. */
export function loadFallback(file: string, url: string, tokenId: string, maxAgeSeconds: number): FallbackCopy {
  // Refused with one line when others can read it, it is a link, or it is not JSON (user-config.ts).
  const stored = readPrivateJsonAt<Partial<StoredCopy>>(file);
  if (stored === undefined) throw new CliError('there is no sealed copy of an earlier pull to fall back on');
  const savedAt = new Date(String(stored?.saved_at));
  if (
    stored?.url !== url ||
    stored.token_id !== tokenId ||
    typeof stored.body !== 'string' ||
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
  return { body: stored.body, savedAt, file };
}

export function describeAge(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}
