import { describe, expect, it } from 'vitest';
import { InvalidRequest, TooLarge } from '../../src/errors.js';
import { assertSecretKey, assertSecretValue } from '../../src/secrets/secret-key.js';

describe('secret keys and values', () => {
  it('should take letters, digits and "_", not starting with a digit, up to 128 characters', () => {
    for (const key of ['A', '_', 'DB_URL', 'lower_case_1', `K${'x'.repeat(127)}`]) {
      expect(() => assertSecretKey(key)).not.toThrow();
    }
  });

  it('should refuse empty, digit-first, too long and punctuated keys', () => {
    for (const key of ['', '1KEY', `K${'x'.repeat(128)}`, 'DB-URL', 'A.B', 'A B', 'KÉ', 'A=1', 'A\n']) {
      expect(() => assertSecretKey(key)).toThrow(InvalidRequest);
    }
  });

  it('should bound values in UTF-8 bytes, not characters', () => {
    expect(() => assertSecretValue('K', 'é'.repeat(5), 10)).not.toThrow();
    expect(() => assertSecretValue('K', 'é'.repeat(6), 10)).toThrow(TooLarge);
    expect(() => assertSecretValue('K', '', 10)).not.toThrow();
  });

  it('should refuse a value that is not a string', () => {
    for (const value of [undefined, null, 3, {}, ['a']]) {
      expect(() => assertSecretValue('K', value, 10)).toThrow(InvalidRequest);
    }
  });

  it('should refuse a lone surrogate and a NUL character, naming the key but not the value', () => {
    for (const value of ['abc\ud800', '\udc00', 'x\u0000y']) {
      expect(() => assertSecretValue('ODD', value, 100)).toThrow(/ODD/);
      expect(() => assertSecretValue('ODD', value, 100)).toThrow(InvalidRequest);
    }
    for (const value of ['\ud83d\ude00', '\ufeffBOM', 'tab\tand\nnewline']) {
      expect(() => assertSecretValue('K', value, 100)).not.toThrow();
    }
  });

  it('should describe a rejected key without echoing it: a value pasted into the key field stays out of errors', () => {
    const pasted = 'postgres://app:s3cret-pass@db/prod';
    expect(() => assertSecretKey(pasted)).toThrow(/invalid key \(character 9 is not allowed\)/);
    try {
      assertSecretKey(pasted);
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
    }
    expect(() => assertSecretKey('9LIVES')).toThrow(/starts with a digit/);
    expect(() => assertSecretKey('A'.repeat(129))).toThrow(/it has 129 characters/);
  });
});
