import { InvalidRequest, TooLarge } from '../errors.js';

/** A secret's KEY (CONTRACT §3): letters, digits and "_", not starting with a digit, up to 128 characters. */
export const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function assertSecretKey(key: string): void {
  if (!SECRET_KEY.test(key)) {
    throw new InvalidRequest(
      `invalid key "${key.slice(0, 130)}": use letters, digits and "_", not starting with a digit, up to 128 characters`,
    );
  }
}

/** A value is a string of at most `maxBytes` bytes of UTF-8 (MAX_SECRET_BYTES). */
export function assertSecretValue(key: string, value: unknown, maxBytes: number): asserts value is string {
  if (typeof value !== 'string') throw new InvalidRequest(`the value of ${key} must be a string`);
  if (Buffer.byteLength(value, 'utf8') > maxBytes) {
    throw new TooLarge(`the value of ${key} is larger than ${maxBytes} bytes`);
  }
}
