import { InvalidRequest, TooLarge } from '../errors.js';

/** A secret's KEY (CONTRACT §3): letters, digits and "_", not starting with a digit, up to 128 characters. */
export const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The rejected key is described, never echoed: people paste a value into the key field, and an error
 * message travels to flash messages (stored in the session), logs and terminals.
 */
export function assertSecretKey(key: string): void {
  if (SECRET_KEY.test(key)) return;
  const problem =
    key.length === 0
      ? 'it is empty'
      : key.length > 128
        ? `it has ${key.length} characters`
        : /^[0-9]/.test(key)
          ? 'it starts with a digit'
          : `character ${[...key].findIndex((c) => !/[A-Za-z0-9_]/.test(c)) + 1} is not allowed`;
  throw new InvalidRequest(
    `invalid key (${problem}): use letters, digits and "_", not starting with a digit, up to 128 characters`,
  );
}

// With the u flag a surrogate pair is one code point, so only an unpaired half matches (as isWellFormed).
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A value is a string of at most `maxBytes` bytes of UTF-8 (MAX_SECRET_BYTES) that every way out can
 * carry exactly. A lone surrogate has no UTF-8 form: stored, it would come back as U+FFFD. A NUL byte
 * cannot live in an environment variable or a shell variable: stored, it would make `secretsfly run`
 * fail for every project that inherits it. Both are refused here rather than altered later.
 */
export function assertSecretValue(key: string, value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') throw new InvalidRequest(`the value of ${key} must be a string`);
  if (LONE_SURROGATE.test(value)) {
    throw new InvalidRequest(`the value of ${key} holds a lone UTF-16 surrogate, which is not text`);
  }
  if (value.includes('\0')) {
    throw new InvalidRequest(`the value of ${key} holds a NUL character, which no environment variable can hold`);
  }
  if (Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw new TooLarge(`the value of ${key} is larger than ${maxBytes} bytes`);
  }
}
