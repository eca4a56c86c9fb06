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
 * The one place a presented master key (API header, UI form, CLI file or prompt) becomes bytes:
 * undefined when it is malformed, since a malformed key cannot be right. The caller wipes the bytes.
 */
export function readPresentedMasterKey(candidate: string): Uint8Array | undefined {
  return isWellFormedMasterKey(candidate) ? masterKeyBytes(candidate) : undefined;
}

/** readPresentedMasterKey, failing as a wrong key would (and without costing a derivation) when malformed. */
export function presentedMasterKey(candidate: string): Uint8Array {
  const bytes = readPresentedMasterKey(candidate);
  if (!bytes) throw new InvalidMasterKey();
  return bytes;
}

/**
 * A key chosen at creation or rotation: printable ASCII only (0x21–0x7E), 16–1024 characters, no
 * ":". Wider than that, a key works from the CLI but never over HTTP (a header carries Latin-1 at
 * best, and clients differ on how they encode the rest), so it is refused now, with the reason.
 * Keys presented later are still checked with isWellFormedMasterKey, so older keys keep working.
 */
export function assertChosenMasterKey(candidate: string): void {
  const reason =
    candidate.length < 16 || candidate.length > 1024
      ? `it has ${candidate.length} characters`
      : /[^\x21-\x7e]/.test(candidate)
        ? /\s/.test(candidate)
          ? 'it holds white space'
          : 'it holds a character outside printable ASCII (an accent, a symbol, a control character …), which HTTP headers cannot carry'
        : candidate.includes(':')
          ? 'it holds ":"'
          : undefined;
  if (reason) {
    throw new InvalidRequest(
      `a master key must be 16 to 1024 printable ASCII characters, without ":" or white space: ${reason}`,
    );
  }
}
