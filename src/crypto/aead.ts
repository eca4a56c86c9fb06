import { randomBytes } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

/** The first byte of every blob names its format, so the cipher can change without guessing. */
const FORMAT_XCHACHA20_POLY1305 = 1;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;

export class DecryptionFailed extends Error {
  constructor() {
    super('decryption failed: wrong key, or the ciphertext or its context was altered');
    this.name = 'DecryptionFailed';
  }
}

/** XChaCha20-Poly1305 with a fresh random 24-byte nonce: `format ‖ nonce ‖ ciphertext+tag`. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  const blob = new Uint8Array(1 + NONCE_BYTES + sealed.length);
  blob[0] = FORMAT_XCHACHA20_POLY1305;
  blob.set(nonce, 1);
  blob.set(sealed, 1 + NONCE_BYTES);
  return blob;
}

export function open(key: Uint8Array, blob: Uint8Array, aad: Uint8Array): Uint8Array {
  if (blob.length < 1 + NONCE_BYTES + TAG_BYTES || blob[0] !== FORMAT_XCHACHA20_POLY1305) {
    throw new DecryptionFailed();
  }
  const nonce = blob.subarray(1, 1 + NONCE_BYTES);
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(blob.subarray(1 + NONCE_BYTES));
  } catch {
    throw new DecryptionFailed();
  }
}
