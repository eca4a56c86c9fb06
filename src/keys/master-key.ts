import { randomBytes } from 'node:crypto';
import { InvalidRequest } from '../errors.js';

const GENERATED = /^sfmk_[A-Za-z0-9_-]{43}$/;

/** `sfmk_` + unpadded base64url of 32 random bytes. */
export function generateMasterKey(): string {
  return `sfmk_${randomBytes(32).toString('base64url')}`;
}

/** A generated key, or a chosen one of 16–1024 characters without `:` or white space. */
export function isWellFormedMasterKey(candidate: string): boolean {
  if (GENERATED.test(candidate)) return true;
  return candidate.length >= 16 && candidate.length <= 1024 && !/[:\s]/u.test(candidate);
}

/** Turns the master key into bytes at the edge; the caller wipes them (`fill(0)`) when done. */
export function masterKeyBytes(candidate: string): Uint8Array {
  return new Uint8Array(Buffer.from(candidate, 'utf8'));
}

export function assertChosenMasterKey(candidate: string): void {
  if (!isWellFormedMasterKey(candidate)) {
    throw new InvalidRequest('a master key must be 16 to 1024 characters with no ":" and no white space');
  }
}
