import { randomBytes } from 'node:crypto';
import { open, seal } from './aead.js';

export const DATA_KEY_BYTES = 32;

export function generateDataKey(): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_BYTES));
}

export interface WrapContext {
  readonly rootId: string;
  readonly keyVersion: number;
}

/** Where a secret version lives; bound into its ciphertext so it cannot be moved to another row. */
export interface ValueContext {
  readonly rootId: string;
  readonly projectId: string;
  readonly environmentId: string;
  readonly key: string;
  readonly version: number;
}

const encoder = new TextEncoder();
// ignoreBOM: a value may begin with U+FEFF, and by default the decoder would drop it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// JSON of a fixed-order array: unambiguous whatever characters the parts hold.
const wrapAad = (c: WrapContext) => encoder.encode(JSON.stringify(['sf-dek-v1', c.rootId, c.keyVersion]));
const valueAad = (c: ValueContext) =>
  encoder.encode(JSON.stringify(['sf-value-v1', c.rootId, c.projectId, c.environmentId, c.key, c.version]));

export function wrapDataKey(kek: Uint8Array, dek: Uint8Array, context: WrapContext): Uint8Array {
  return seal(kek, dek, wrapAad(context));
}

/** Throws DecryptionFailed when the KEK is wrong, i.e. when the master key is wrong. */
export function unwrapDataKey(kek: Uint8Array, wrapped: Uint8Array, context: WrapContext): Uint8Array {
  return open(kek, wrapped, wrapAad(context));
}

export function encryptValue(dek: Uint8Array, value: string, context: ValueContext): Uint8Array {
  const plaintext = encoder.encode(value);
  const blob = seal(dek, plaintext, valueAad(context));
  plaintext.fill(0);
  return blob;
}

export function decryptValue(dek: Uint8Array, blob: Uint8Array, context: ValueContext): string {
  const plaintext = open(dek, blob, valueAad(context));
  const value = decoder.decode(plaintext);
  plaintext.fill(0);
  return value;
}
