import { InvalidRequest, TooLarge } from '../errors.js';
import { parseTemplate } from './references.js';
import type { SecretScope } from './secret-scope.js';
import { decodeStoredValue, encodeStoredValue, encodeTypedValue } from './stored-value.js';
import { assertSecretValue } from './secret-key.js';
import type { TypedValue } from './typed-secrets.js';
import { validateTyped } from './typed-validation.js';

/**
 * What a write stores (stored-value.ts): the plaintext to encrypt, and the plaintext metadata of its
 * version (a typed secret's type, a certificate's public fields). Every check of what is written
 * happens here, each a 400 naming the key and changing nothing:
 * - a typed secret must fit the value size limit; the caller validated it (typed-validation.ts)
 *   before its transaction began, so no key's KDF ever runs while the write lock is held;
 * - a value holding `${` becomes a template: a malformed reference, or one beyond the reach of a
 *   value written with a service token (references.ts), is refused;
 * - `literal` (a rollback to a value from before references existed) stores it as it was, never
 *   to be resolved. `null` is a tombstone.
 */
/** A value to store: a string (null: a tombstone), or a typed secret's fields instead. */
export interface StoredWrite {
  readonly key: string;
  readonly value: string | null;
  readonly literal?: boolean | undefined;
  readonly typed?: TypedValue | undefined;
  /** A typed secret's plaintext metadata as JSON (a certificate's public fields), from its validation. */
  readonly metadata?: string | null | undefined;
}

export function storedForm(
  s: SecretScope,
  write: StoredWrite,
  actorName: string,
  maxBytes: number,
): { plaintext: string | null; type: string | null; metadata: string | null } {
  const { key, value, typed } = write;
  if (typed) {
    const plaintext = encodeTypedValue(typed);
    if (Buffer.byteLength(plaintext) > maxBytes) {
      throw new TooLarge(`the fields of ${key} exceed the ${maxBytes}-byte limit for a value`);
    }
    return { plaintext, type: typed.type, metadata: write.metadata ?? null };
  }
  if (value === null || write.literal || !value.includes('${')) return { plaintext: value, type: null, metadata: null };
  const stored = encodeStoredValue(value, actorName);
  let parts;
  try {
    parts = parseTemplate(value);
  } catch (error) {
    throw new InvalidRequest(`the value of ${key} has a malformed reference: ${(error as Error).message}`);
  }
  if (decodeStoredValue(stored).references === 'scope') {
    const outside = parts.find(
      (part) =>
        typeof part !== 'string' &&
        ((part.project !== undefined && part.project !== s.project.name) ||
          (part.environment !== undefined && part.environment !== s.environment.name)),
    );
    if (outside && typeof outside !== 'string') {
      throw new InvalidRequest(
        `the value of ${key} references ${outside.text}: a value written with a service token may reference only keys of its own project and environment (an owner can write it in the UI or with the server-side CLI)`,
      );
    }
  }
  return { plaintext: stored, type: null, metadata: null };
}

/**
 * A value or a typed secret as a write receives it, checked before any transaction begins: opening
 * an encrypted key runs its KDF (bounded by KEY_KDF_LIMITS), which must never hold the write lock.
 */
export function checkedWrite(
  key: string,
  value: unknown,
  typed: TypedValue | undefined,
  maxBytes: number,
): { value: string; typed?: TypedValue | undefined; metadata: string | null } {
  if (!typed) {
    assertSecretValue(key, value, maxBytes);
    return { value, metadata: null };
  }
  const certificate = validateTyped(key, typed, maxBytes);
  return { value: '', typed, metadata: certificate ? JSON.stringify(certificate) : null };
}
