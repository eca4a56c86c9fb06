import { describe, expect, it } from 'vitest';
import { DecryptionFailed } from '../../src/crypto/aead.js';
import { generateDataKey } from '../../src/crypto/envelope.js';
import {
  decodeKey43,
  environmentKey,
  newKeyedToken,
  parseKeyedToken,
  parseTokenProof,
  tokenKeys,
  tokenProof,
  unwrapEnvironmentKey,
  wrapEnvironmentKey,
} from '../../src/crypto/scoped-keys.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('scoped keys', () => {
  it('should give each (root, environment) its own key, stable for the same data key', () => {
    const dek = generateDataKey();
    const prod = environmentKey(dek, 'root-1', 'prod-id');
    expect(hex(environmentKey(dek, 'root-1', 'prod-id'))).toBe(hex(prod));
    const others = [
      environmentKey(dek, 'root-1', 'staging-id'),
      environmentKey(dek, 'root-2', 'prod-id'),
      environmentKey(generateDataKey(), 'root-1', 'prod-id'),
      dek,
    ];
    for (const other of others) expect(hex(other)).not.toBe(hex(prod));
    // Parts are JSON-encoded, so shifting text between them never gives the same label.
    expect(hex(environmentKey(dek, 'a"', 'b'))).not.toBe(hex(environmentKey(dek, 'a', '"b')));
  });

  it('should split a keyed token into an authentication key and a wrapping key that differ', () => {
    const token = newKeyedToken('0123456789abcdef');
    expect(token).toMatch(/^sfst_k1_0123456789abcdef_[A-Za-z0-9_-]{43}$/);
    const parsed = parseKeyedToken(token)!;
    expect(parsed.id).toBe('0123456789abcdef');
    expect(hex(parsed.authKey)).not.toBe(hex(parsed.wrappingKey));
    const secret = decodeKey43(token.slice(25))!;
    expect(hex(tokenKeys('0123456789abcdef', secret).wrappingKey)).toBe(hex(parsed.wrappingKey));
    // The same secret under another id gives other keys: a token's keys are its own.
    expect(hex(tokenKeys('fedcba9876543210', secret).authKey)).not.toBe(hex(parsed.authKey));
  });

  it('should make a proof that carries the authentication key and nothing that unwraps', () => {
    const token = newKeyedToken('0123456789abcdef');
    const { id, authKey, wrappingKey } = parseKeyedToken(token)!;
    const proof = tokenProof(id, authKey);
    expect(proof).toMatch(/^sfzk_0123456789abcdef_[A-Za-z0-9_-]{43}$/);
    expect(hex(parseTokenProof(proof)!.authKey)).toBe(hex(authKey));
    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      expect(proof).not.toContain(Buffer.from(wrappingKey).toString(encoding).replace(/=+$/, ''));
    }
    expect(proof).not.toContain(token.slice(25));
  });

  it('should refuse tokens that are not exactly the canonical form', () => {
    const token = newKeyedToken('0123456789abcdef');
    const last = token.at(-1)!;
    // The last base64url character carries 4 unused bits: another character can decode the same bytes.
    const alias = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const candidates = [
      token.slice(0, -1),
      `${token}A`,
      token.replace('sfst_k1_', 'sfst_k2_'),
      token.replace('sfst_k1_', 'sfst_'),
      token.toUpperCase(),
    ];
    for (const candidate of candidates) expect(parseKeyedToken(candidate)).toBeUndefined();
    const aliasParsed = parseKeyedToken(alias);
    if (aliasParsed) expect(hex(aliasParsed.authKey)).not.toBe(hex(parseKeyedToken(token)!.authKey));
    expect(decodeKey43(`${'A'.repeat(42)}B`)).toBeUndefined();
    expect(parseTokenProof(token)).toBeUndefined();
  });

  it("should unwrap a token's environment key only with its wrapping key and its exact binding", () => {
    const envKey = environmentKey(generateDataKey(), 'root', 'prod');
    const { wrappingKey } = parseKeyedToken(newKeyedToken('0123456789abcdef'))!;
    const binding = {
      tokenId: '0123456789abcdef',
      rootId: 'root',
      environmentId: 'prod',
      environmentName: 'prod',
      chain: [
        { id: 'root', name: 'acme' },
        { id: 'web', name: 'acme-web' },
      ],
    };
    const wrapped = wrapEnvironmentKey(wrappingKey, envKey, binding);
    expect(hex(unwrapEnvironmentKey(wrappingKey, wrapped, binding))).toBe(hex(envKey));
    const wrong = [
      { ...binding, tokenId: 'fedcba9876543210' },
      { ...binding, environmentId: 'staging' },
      { ...binding, rootId: 'other' },
      { ...binding, environmentName: 'staging' },
      { ...binding, chain: [binding.chain[0]!, { id: 'api', name: 'acme-web' }] },
      { ...binding, chain: [binding.chain[0]!, { id: 'web', name: 'acme-api' }] },
      { ...binding, chain: [binding.chain[0]!] },
    ];
    for (const other of wrong)
      expect(() => unwrapEnvironmentKey(wrappingKey, wrapped, other)).toThrow(DecryptionFailed);
    const { wrappingKey: another } = parseKeyedToken(newKeyedToken('0123456789abcdef'))!;
    expect(() => unwrapEnvironmentKey(another, wrapped, binding)).toThrow(DecryptionFailed);
    expect(() => unwrapEnvironmentKey(wrappingKey, wrapped.subarray(0, 40), binding)).toThrow(DecryptionFailed);
  });
});
