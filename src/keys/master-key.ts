import { randomBytes } from 'node:crypto';
import { InvalidMasterKey, InvalidRequest } from '../errors.js';

const GENERATED = /^sfmk_[A-Za-z0-9_-]{43}$/;

/** `sfmk_` + unpadded base64url of 32 random bytes. */
export function generateMasterKey(): string {
  return `sfmk_${randomBytes(32).toString('base64url')}`;
}

/**
 * A generated key, or a chosen one of 16–1024 characters without `:`, white space or control
 * characters. Control characters matter: scrypt's inner HMAC zero-pads short keys, so "k" and "k\0"
 * would derive the same KEK, which is the original's padding flaw in another form.
 */
export function isWellFormedMasterKey(candidate: string): boolean {
  if (GENERATED.test(candidate)) return true;
  return candidate.length >= 16 && candidate.length <= 1024 && !/[:\s\p{Cc}]/u.test(candidate);
}

/** Turns the master key into bytes at the edge; the caller wipes them (`fill(0)`) when done. */
export function masterKeyBytes(candidate: string): Uint8Array {
  return new Uint8Array(Buffer.from(candidate, 'utf8'));
}

/**
 * A master key presented to unlock something (CLI, API, UI). A malformed one cannot be right, so it
 * fails as a wrong key would, without costing a derivation.
 */
export function presentedMasterKey(candidate: string): Uint8Array {
  if (!isWellFormedMasterKey(candidate)) throw new InvalidMasterKey();
  return masterKeyBytes(candidate);
}

export function assertChosenMasterKey(candidate: string): void {
  if (!isWellFormedMasterKey(candidate)) {
    throw new InvalidRequest(
      'a master key must be 16 to 1024 characters with no ":", white space or control characters',
    );
  }
}
