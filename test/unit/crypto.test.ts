import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionFailed, open, seal } from '../../src/crypto/aead.js';
import {
  decryptValue,
  encryptValue,
  generateDataKey,
  unwrapDataKey,
  type ValueContext,
  wrapDataKey,
} from '../../src/crypto/envelope.js';
import { createKdf } from '../../src/crypto/kdf.js';
import { generateMasterKey, isWellFormedMasterKey } from '../../src/keys/master-key.js';
import { FAST_KDF, bytes } from '../helpers/test-context.js';

const context: ValueContext = {
  rootId: 'root-1',
  projectId: 'proj-1',
  environmentId: 'env-1',
  key: 'DB_URL',
  version: 3,
};

describe('authenticated encryption', () => {
  it('should round-trip unicode, newlines and empty values', () => {
    const dek = generateDataKey();
    for (const value of ['', 'plain', 'multi\nline\r\n"quoted" \'single\' `back`', 'ünïcødé 🔐 日本語']) {
      expect(decryptValue(dek, encryptValue(dek, value, context), context)).toBe(value);
    }
  });

  it('should reject every single flipped byte instead of returning garbage', () => {
    const key = new Uint8Array(randomBytes(32));
    const blob = seal(key, bytes('the secret'), bytes('aad'));
    for (let i = 0; i < blob.length; i++) {
      const tampered = Uint8Array.from(blob);
      tampered[i]! ^= 0x01;
      expect(() => open(key, tampered, bytes('aad'))).toThrow(DecryptionFailed);
    }
  });

  it('should use a fresh nonce for every encryption', () => {
    const dek = generateDataKey();
    const nonces = new Set(
      Array.from({ length: 500 }, () =>
        Buffer.from(encryptValue(dek, 'same', context).subarray(1, 25)).toString('hex'),
      ),
    );
    expect(nonces.size).toBe(500);
  });

  it('should refuse a ciphertext moved to another root, project, environment, key or version', () => {
    const dek = generateDataKey();
    const blob = encryptValue(dek, 'value', context);
    const moves: Partial<ValueContext>[] = [
      { rootId: 'root-2' },
      { projectId: 'proj-2' },
      { environmentId: 'env-2' },
      { key: 'DB_URL2' },
      { version: 4 },
    ];
    for (const move of moves) {
      expect(() => decryptValue(dek, blob, { ...context, ...move })).toThrow(DecryptionFailed);
    }
  });

  it('should unwrap the data key only with the right KEK, root and key version', () => {
    const kek = new Uint8Array(randomBytes(32));
    const dek = generateDataKey();
    const wrapped = wrapDataKey(kek, dek, { rootId: 'r', keyVersion: 1 });
    expect(unwrapDataKey(kek, wrapped, { rootId: 'r', keyVersion: 1 })).toEqual(dek);
    expect(() => unwrapDataKey(new Uint8Array(randomBytes(32)), wrapped, { rootId: 'r', keyVersion: 1 })).toThrow(
      DecryptionFailed,
    );
    expect(() => unwrapDataKey(kek, wrapped, { rootId: 'other', keyVersion: 1 })).toThrow(DecryptionFailed);
    expect(() => unwrapDataKey(kek, wrapped, { rootId: 'r', keyVersion: 2 })).toThrow(DecryptionFailed);
  });
});

describe('key derivation', () => {
  it('should derive the same key from the same secret and salt, and another from any change', async () => {
    const kdf = createKdf({ concurrency: 2 });
    const salt = new Uint8Array(16);
    const a = await kdf.derive(bytes('master-key-0123456789'), salt, FAST_KDF);
    expect(a).toHaveLength(32);
    expect(await kdf.derive(bytes('master-key-0123456789'), salt, FAST_KDF)).toEqual(a);
    expect(await kdf.derive(bytes('master-key-0123456780'), salt, FAST_KDF)).not.toEqual(a);
    expect(await kdf.derive(bytes('master-key-0123456789'), new Uint8Array(16).fill(1), FAST_KDF)).not.toEqual(a);
    expect(kdf.derivations).toBe(4);
  });

  it('should keep the event loop free while deriving at the real cost', async () => {
    const kdf = createKdf({ concurrency: 1 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await kdf.derive(bytes('a-real-master-key'), new Uint8Array(16), { alg: 'scrypt', v: 1, N: 2 ** 17, r: 8, p: 1 });
    clearInterval(timer);
    // A derivation on the event loop would have let no timer run at all.
    expect(ticks).toBeGreaterThan(3);
  });

  it('should run no more derivations at once than its cap', async () => {
    const kdf = createKdf({ concurrency: 1 });
    const costly = { alg: 'scrypt', v: 1, N: 2 ** 15, r: 8, p: 1 } as const;
    const all = [1, 2, 3].map((i) => kdf.derive(bytes(`key-${i}`), new Uint8Array(16), costly));
    await new Promise((resolve) => setImmediate(resolve));
    expect(kdf.derivations).toBe(1);
    await Promise.all(all);
    expect(kdf.derivations).toBe(3);
  });
});

describe('master keys', () => {
  it('should generate sfmk_ plus 43 base64url characters of 32 random bytes', () => {
    const key = generateMasterKey();
    expect(key).toMatch(/^sfmk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(5), 'base64url')).toHaveLength(32);
    expect(generateMasterKey()).not.toBe(key);
  });

  it('should accept chosen keys of 16 to 1024 characters without ":" or white space', () => {
    expect(isWellFormedMasterKey('a'.repeat(16))).toBe(true);
    expect(isWellFormedMasterKey('a'.repeat(1024))).toBe(true);
    expect(isWellFormedMasterKey('a'.repeat(15))).toBe(false);
    expect(isWellFormedMasterKey('a'.repeat(1025))).toBe(false);
    expect(isWellFormedMasterKey('aaaaaaaa:aaaaaaaa')).toBe(false);
    expect(isWellFormedMasterKey('aaaaaaaa aaaaaaaa')).toBe(false);
    expect(isWellFormedMasterKey('aaaaaaaaaaaaaaaa\0')).toBe(false);
    expect(isWellFormedMasterKey('aaaaaaaaaaaaaaaa\u007f')).toBe(false);
    expect(isWellFormedMasterKey('ünïcødé-kéy-🔐-long')).toBe(true);
  });
});
