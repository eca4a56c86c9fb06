import { timingSafeEqual } from 'node:crypto';
import { ResolvedValues } from './resolved-values.js';

/**
 * What the keystore holds for a root (keystore.ts), and how each kind of entry is wiped. Split from
 * the store itself: the shapes and their rules, not the bookkeeping.
 */

export type SealReason = 'manual' | 'expired' | 'rotated' | 'shutdown';

export interface HeldKey {
  readonly dek: Uint8Array;
  /** The root's key_version when the key was unwrapped; a rotation elsewhere makes it stale. */
  readonly keyVersion: number;
  readonly expiresAt: number;
  /** Cancels the timer that drops this key at `expiresAt`. */
  readonly cancelTimer: () => void;
}

export interface ApiEntry extends HeldKey {
  /** HMAC of the master key that proved this entry, under a per-process random key. */
  readonly proof: Uint8Array;
}

/** A keyed token's environment key, unwrapped by a pull that presented the whole token. */
export interface TokenEntry {
  readonly tokenId: string;
  /** What the key was unwrapped for (bindingLabel): a token whose row now says otherwise misses. */
  readonly binding: string;
  /** The row's token_hash when the token was verified: a row changed since then misses. */
  readonly tokenHash: Uint8Array;
  readonly envKey: Uint8Array;
  /**
   * HMAC of the whole token string that was verified (its authentication key's hash matched) and
   * unwrapped this entry, under the per-process random key. Neither the token nor its wrapping key
   * is kept.
   */
  readonly proof: Uint8Array;
  readonly expiresAt: number;
  readonly cancelTimer: () => void;
}

export interface RootSlot {
  /** Admin unseals by holder: each belongs to the session that made it, and to no other. */
  admins: Map<string, HeldKey>;
  api: ApiEntry[];
  /** By token id: at most one entry per keyed token. */
  tokens: Map<string, TokenEntry>;
  resolved: ResolvedValues;
}

export const emptySlot = (): RootSlot => ({
  admins: new Map(),
  api: [],
  tokens: new Map(),
  resolved: new ResolvedValues(),
});

/** Runs `fn` once after `ms` milliseconds, without keeping the process alive; returns a cancel function. */
export type Schedule = (fn: () => void, ms: number) => () => void;

export const realTimers: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms).unref();
  return () => clearTimeout(timer);
};

export const wipe = (held: HeldKey) => {
  held.cancelTimer();
  held.dek.fill(0);
};

export const wipeToken = (entry: TokenEntry) => {
  entry.cancelTimer();
  entry.envKey.fill(0);
};

/**
 * Whether `entry` was made for this very token string (its keystore proof) verified against a row
 * whose token_hash is still `tokenHash`. Constant time in the secrets compared.
 */
export function sameVerifiedToken(entry: TokenEntry, proof: Uint8Array, tokenHash: Uint8Array): boolean {
  return (
    entry.tokenHash.length === tokenHash.length &&
    timingSafeEqual(entry.tokenHash, tokenHash) &&
    timingSafeEqual(entry.proof, proof)
  );
}
