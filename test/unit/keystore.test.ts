import { describe, expect, it } from 'vitest';
import { Keystore } from '../../src/keys/keystore.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { bytes } from '../helpers/test-context.js';

const dek = () => new Uint8Array(32).fill(7);

/** A keystore whose unseals live 150 ms on a fake clock, recording which roots expired. */
function keystoreOnFakeClock() {
  const clock = new FakeClock();
  const expired: string[] = [];
  const keystore = new Keystore({
    ttlMs: 150,
    now: clock.now,
    schedule: clock.schedule,
    onExpired: (rootId) => expired.push(rootId),
  });
  return { clock, expired, keystore };
}

describe('keystore', () => {
  it('should hold an admin unseal until sealed, and hand out copies only', () => {
    const keystore = new Keystore({ ttlMs: 60_000 });
    const original = dek();
    keystore.unseal('root', 'session-a', original, 1);
    original.fill(0);
    const copy = keystore.adminKey('root', 'session-a', 1)!;
    expect(copy).toEqual(dek());
    copy.fill(0);
    expect(keystore.adminKey('root', 'session-a', 1)).toEqual(dek());
    expect(keystore.isUnsealed('root')).toBe(true);
    expect(keystore.seal('root')).toBe(true);
    expect(keystore.isUnsealed('root')).toBe(false);
    expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
  });

  it('should seal by itself when the expiry timer fires', () => {
    const { clock, expired, keystore } = keystoreOnFakeClock();
    keystore.unseal('root', 'session-a', dek(), 1);
    clock.advance(149);
    expect(keystore.isUnsealed('root')).toBe(true);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(keystore.isUnsealed('root')).toBe(false);
    expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
    expect(expired).toEqual(['root']);
  });

  it('should report no expiry for a root sealed, or unsealed again, before its timer fired', () => {
    const { clock, expired, keystore } = keystoreOnFakeClock();
    keystore.unseal('sealed', 'session-a', dek(), 1);
    keystore.seal('sealed');
    keystore.unseal('again', 'session-a', dek(), 1);
    clock.advance(100);
    keystore.unseal('again', 'session-a', dek(), 1);
    expect(clock.pending).toBe(1);
    clock.advance(100);
    expect(keystore.isUnsealed('again')).toBe(true);
    expect(expired).toEqual([]);
    clock.advance(50);
    expect(expired).toEqual(['again']);
  });

  it('should drop an unsealed key once the root has been rotated elsewhere', () => {
    const keystore = new Keystore({ ttlMs: 60_000 });
    keystore.unseal('root', 'session-a', dek(), 1);
    expect(keystore.adminKey('root', 'session-a', 2)).toBeUndefined();
    expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
  });

  it('should give an unseal to the session that made it and to no other, and wipe it when that session ends', () => {
    const keystore = new Keystore({ ttlMs: 60_000 });
    keystore.unseal('root', 'session-a', dek(), 1);
    expect(keystore.adminKey('root', 'session-b', 1)).toBeUndefined();
    expect(keystore.unsealedUntil('root', 'session-b')).toBeUndefined();
    expect(keystore.unsealedUntil('root', undefined)).toBeUndefined();
    expect(keystore.unsealedUntil('root', 'session-a')).toBeInstanceOf(Date);
    const held = keystore.adminKey('root', 'session-a', 1)!;
    held.fill(0);
    keystore.dropHolder('session-a');
    expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
    expect(keystore.isUnsealed('root')).toBe(false);
  });

  it('should seal a root for every session at once', () => {
    const keystore = new Keystore({ ttlMs: 60_000 });
    keystore.unseal('root', 'session-a', dek(), 1);
    keystore.unseal('root', 'session-b', dek(), 1);
    expect(keystore.seal('root')).toBe(true);
    expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
    expect(keystore.adminKey('root', 'session-b', 1)).toBeUndefined();
  });

  describe('API cache', () => {
    it('should serve a DEK only to the master key that proved it', () => {
      const keystore = new Keystore({ ttlMs: 60_000 });
      keystore.rememberApiKey('root', bytes('the-right-master-key'), dek(), 1);
      expect(keystore.apiKey('root', bytes('the-right-master-key'), 1)).toEqual(dek());
      expect(keystore.apiKey('root', bytes('a-wrong-master-key!!'), 1)).toBeUndefined();
      // A wrong key does not evict the good entry.
      expect(keystore.apiKey('root', bytes('the-right-master-key'), 1)).toEqual(dek());
      expect(keystore.apiKey('other-root', bytes('the-right-master-key'), 1)).toBeUndefined();
    });

    it('should never make a root look unsealed', () => {
      const keystore = new Keystore({ ttlMs: 60_000 });
      keystore.rememberApiKey('root', bytes('the-right-master-key'), dek(), 1);
      expect(keystore.isUnsealed('root')).toBe(false);
      expect(keystore.adminKey('root', 'session-a', 1)).toBeUndefined();
    });

    it('should expire entries and drop them when the key version moves', () => {
      let now = 1_000;
      const keystore = new Keystore({ ttlMs: 10_000, now: () => now });
      keystore.rememberApiKey('root', bytes('the-right-master-key'), dek(), 1);
      expect(keystore.apiKey('root', bytes('the-right-master-key'), 2)).toBeUndefined();
      keystore.rememberApiKey('root', bytes('the-right-master-key'), dek(), 2);
      now += 10_001;
      expect(keystore.apiKey('root', bytes('the-right-master-key'), 2)).toBeUndefined();
    });
  });

  describe('resolved-values cache', () => {
    it('should keep values only at the revision they were read at, and only while a key is held', () => {
      const keystore = new Keystore({ ttlMs: 60_000 });
      const values = new Map([['A', 'a']]);
      keystore.rememberResolved('root', 'p/e', 5, values);
      expect(keystore.resolved('root', 'p/e', 5)).toBeUndefined();

      keystore.rememberApiKey('root', bytes('the-right-master-key'), dek(), 1);
      keystore.rememberResolved('root', 'p/e', 5, values);
      expect(keystore.resolved('root', 'p/e', 5)).toBe(values);
      expect(keystore.resolved('root', 'p/e', 6)).toBeUndefined();

      keystore.seal('root');
      expect(keystore.resolved('root', 'p/e', 5)).toBeUndefined();
    });
  });

  describe('keyed-token cache', () => {
    const envKey = () => new Uint8Array(32).fill(9);
    const hashA = new Uint8Array(32).fill(1);
    const tokenA = { id: 'token-a', binding: 'scope-1', tokenHash: hashA };
    const tokenB = { id: 'token-b', binding: 'scope-1', tokenHash: hashA };

    it('should serve an environment key only to the token string that unwrapped it, for its own scope', () => {
      const keystore = new Keystore({ ttlMs: 60_000 });
      const proof = (token: string) => keystore.proof(token);
      const original = envKey();
      keystore.rememberTokenKey('root', tokenA, proof('sfst_k1_a_secret'), original);
      original.fill(0); // the keystore holds its own copy
      expect(keystore.tokenKey('root', tokenA, proof('sfst_k1_a_secret'))).toEqual(envKey());
      expect(keystore.tokenKey('root', tokenA, proof('sfst_k1_a_other!'))).toBeUndefined();
      expect(keystore.tokenKey('root', tokenB, proof('sfst_k1_a_secret'))).toBeUndefined();
      expect(keystore.tokenKey('other', tokenA, proof('sfst_k1_a_secret'))).toBeUndefined();
      // The same token whose row now names another scope (moved in the database) finds nothing.
      expect(keystore.tokenKey('root', { ...tokenA, binding: 'scope-2' }, proof('sfst_k1_a_secret'))).toBeUndefined();
      expect(keystore.isUnsealed('root')).toBe(false);
    });

    it('should know a verified token only by its exact string and an unchanged row', () => {
      const keystore = new Keystore({ ttlMs: 60_000 });
      const proof = (token: string) => keystore.proof(token);
      keystore.rememberTokenKey('root', tokenA, proof('sfst_k1_a_secret'), envKey());
      expect(keystore.knowsToken('root', 'token-a', proof('sfst_k1_a_secret'), hashA)).toBe(true);
      expect(keystore.knowsToken('root', 'token-a', proof('sfst_k1_a_secreT'), hashA)).toBe(false);
      expect(keystore.knowsToken('root', 'token-a', proof('sfst_k1_a_secret'), new Uint8Array(32).fill(2))).toBe(false);
      expect(keystore.knowsToken('root', 'token-b', proof('sfst_k1_a_secret'), hashA)).toBe(false);
      expect(keystore.knowsToken('other', 'token-a', proof('sfst_k1_a_secret'), hashA)).toBe(false);
    });

    it('should forget the key, and the values it let the cache keep, on revocation, seal and expiry', () => {
      const { clock, keystore } = keystoreOnFakeClock();
      const proof = (token: string) => keystore.proof(token);
      const values = new Map([['A', 'a']]);
      keystore.rememberTokenKey('root', tokenA, proof('t'), envKey());
      keystore.rememberResolved('root', 'p/e', 1, values);
      expect(keystore.resolved('root', 'p/e', 1)).toBe(values);
      keystore.dropToken('token-a');
      expect(keystore.tokenKey('root', tokenA, proof('t'))).toBeUndefined();
      expect(keystore.resolved('root', 'p/e', 1)).toBeUndefined();

      keystore.rememberTokenKey('root', tokenA, proof('t'), envKey());
      keystore.seal('root');
      expect(keystore.tokenKey('root', tokenA, proof('t'))).toBeUndefined();

      keystore.rememberTokenKey('root', tokenA, proof('t'), envKey());
      clock.advance(151);
      expect(keystore.tokenKey('root', tokenA, proof('t'))).toBeUndefined();
      expect(keystore.knowsToken('root', 'token-a', proof('t'), hashA)).toBe(false);
    });
  });
});
