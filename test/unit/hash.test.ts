import { describe, expect, it } from 'vitest';
import { hmacSha256, hmacSha256Hex, sha256, sha256Hex } from '../../src/crypto/hash.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('SHA-256 and HMAC-SHA256', () => {
  it('should match the FIPS 180-2 vector for "abc", as bytes and as text', () => {
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(expected);
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe(expected);
  });

  it('should hash a string as its UTF-8 bytes', () => {
    expect(sha256Hex('ünï 🔐')).toBe(hex(sha256(new TextEncoder().encode('ünï 🔐'))));
  });

  it('should match RFC 4231 test case 2, whether the message comes whole or in parts', () => {
    const expected = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe(expected);
    expect(hmacSha256Hex('Jefe', 'what do ya ', new TextEncoder().encode('want for nothing?'))).toBe(expected);
    expect(hex(hmacSha256(new TextEncoder().encode('Jefe'), 'what do ya want ', 'for nothing?'))).toBe(expected);
  });

  it('should keep the digests stored before the switch from @noble/hashes (share creator keys)', () => {
    expect(sha256Hex('sfck_example')).toBe('c45766d18ddca83f2e1143d6d08995efa4d24c99913397cd6f5a1cc0be4a5cac');
  });
});
