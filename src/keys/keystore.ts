import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hmacSha256 } from '../crypto/hash.js';
import {
  type ApiEntry,
  emptySlot,
  type HeldKey,
  type RootSlot,
  realTimers,
  type Schedule,
  sameVerifiedToken,
  type TokenEntry,
  wipe,
  wipeToken,
} from './keystore-entries.js';

export type { Schedule, SealReason } from './keystore-entries.js';

export interface KeystoreOptions {
  /** How long an unsealed root (and an API cache entry) lives, in milliseconds. */
  readonly ttlMs: number;
  /** The clock expiry is read from (epoch milliseconds); `Date.now` unless a test fakes it. */
  readonly now?: () => number;
  /** The timers that seal expired keys; real ones unless a test fakes them with its clock. */
  readonly schedule?: Schedule;
  /** Called after a timer sealed an admin unseal (for the audit log). */
  readonly onExpired?: (rootId: string) => void;
}

/**
 * The only holder of data keys (DEKs), environment keys unwrapped by keyed tokens, and anything
 * decrypted with them. Nothing here is ever serialised, logged or put in a session. Every DEK handed in is copied, and every copy is
 * overwritten with zeros when it is sealed, expires, goes stale, or the process shuts down.
 */
export class Keystore {
  readonly #roots = new Map<string, RootSlot>();
  readonly #proofKey = new Uint8Array(randomBytes(32));
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #schedule: Schedule;
  readonly #onExpired: (rootId: string) => void;

  constructor(options: KeystoreOptions) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#schedule = options.schedule ?? realTimers;
    this.#onExpired = options.onExpired ?? (() => {});
  }

  /**
   * Admin unseal by `holder` (an admin session, by the hash of its id: sessionKey in session-store.ts): holds a copy of
   * the DEK until `seal`, the timer, the end of that session (`dropHolder`) or `sealAll`. Only that
   * holder can use it, so a second session, forged or not, finds the root sealed.
   */
  unseal(rootId: string, holder: string, dek: Uint8Array, keyVersion: number): { expiresAt: Date } {
    const slot = this.#slot(rootId);
    const previous = slot.admins.get(holder);
    if (previous) wipe(previous);
    const held: HeldKey = {
      dek: Uint8Array.from(dek),
      keyVersion,
      expiresAt: this.#now() + this.#ttlMs,
      cancelTimer: this.#schedule(() => {
        if (this.#roots.get(rootId)?.admins.get(holder) !== held) return;
        this.#dropAdmin(rootId, holder);
        this.#onExpired(rootId);
      }, this.#ttlMs),
    };
    slot.admins.set(holder, held);
    return { expiresAt: new Date(held.expiresAt) };
  }

  /** Whether any admin session holds this root unsealed (not what a given session sees: `unsealedUntil`). */
  isUnsealed(rootId: string): boolean {
    const now = this.#now();
    return [...(this.#roots.get(rootId)?.admins.values() ?? [])].some((held) => held.expiresAt > now);
  }

  /** Until when `holder` has the root unsealed; undefined for any other holder, or none. */
  unsealedUntil(rootId: string, holder: string | undefined): Date | undefined {
    const admin = holder === undefined ? undefined : this.#roots.get(rootId)?.admins.get(holder);
    return admin && admin.expiresAt > this.#now() ? new Date(admin.expiresAt) : undefined;
  }

  /** A copy of the DEK `holder` unsealed, or undefined when sealed or stale. The caller wipes the copy. */
  adminKey(rootId: string, holder: string, currentKeyVersion: number): Uint8Array | undefined {
    const admin = this.#roots.get(rootId)?.admins.get(holder);
    if (!admin) return undefined;
    if (admin.expiresAt <= this.#now() || admin.keyVersion !== currentKeyVersion) {
      this.#dropAdmin(rootId, holder);
      return undefined;
    }
    return Uint8Array.from(admin.dek);
  }

  /** The holder's session ended (sign-out, expiry): wipes every unseal it made. */
  dropHolder(holder: string): void {
    for (const rootId of [...this.#roots.keys()]) this.#dropAdmin(rootId, holder);
  }
  /** The sessions holding an unseal here, for the minute check that each still lives (session.ts). */
  holders = (): string[] => [...new Set([...this.#roots.values()].flatMap((slot) => [...slot.admins.keys()]))];

  /**
   * API cache: remembers that `masterKey` unwrapped `dek`, so the next request presenting the same
   * key skips the KDF. It never makes the root look unsealed and never serves a request without its key.
   */
  rememberApiKey(rootId: string, masterKey: Uint8Array, dek: Uint8Array, keyVersion: number): void {
    const proof = this.#proof(masterKey);
    this.#dropApi(rootId, (entry) => timingSafeEqual(entry.proof, proof));
    // Only now: dropping the old entry may have forgotten an emptied slot.
    const slot = this.#slot(rootId);
    const held: ApiEntry = {
      dek: Uint8Array.from(dek),
      keyVersion,
      expiresAt: this.#now() + this.#ttlMs,
      cancelTimer: this.#schedule(() => this.#dropApi(rootId, (entry) => entry === held), this.#ttlMs),
      proof,
    };
    slot.api.push(held);
  }

  /** A copy of the DEK proven earlier by this very master key, or undefined. The caller wipes the copy. */
  apiKey(rootId: string, masterKey: Uint8Array, currentKeyVersion: number): Uint8Array | undefined {
    const slot = this.#roots.get(rootId);
    if (!slot || slot.api.length === 0) return undefined;
    const now = this.#now();
    const stale = (entry: ApiEntry) => entry.expiresAt <= now || entry.keyVersion !== currentKeyVersion;
    if (slot.api.some(stale)) this.#dropApi(rootId, stale);
    const proof = this.#proof(masterKey);
    const entry = slot.api.find((candidate) => timingSafeEqual(candidate.proof, proof));
    return entry ? Uint8Array.from(entry.dek) : undefined;
  }

  /**
   * Token cache: remembers that the keyed token whose `proof` (this.proof) is given (the whole string,
   * verified against the row's `tokenHash`) unwrapped `envKey` for `binding`, so its next pulls skip the key derivations
   * and the unwrap, and reuse the values decrypted for its scope. Only an HMAC of the token is kept.
   */
  rememberTokenKey(
    rootId: string,
    entryFor: { id: string; binding: string; tokenHash: Uint8Array },
    proof: Uint8Array,
    envKey: Uint8Array,
  ): void {
    const tokenId = entryFor.id;
    this.dropToken(tokenId);
    const slot = this.#slot(rootId);
    const entry: TokenEntry = {
      tokenId,
      binding: entryFor.binding,
      tokenHash: Uint8Array.from(entryFor.tokenHash),
      envKey: Uint8Array.from(envKey),
      proof: Uint8Array.from(proof),
      expiresAt: this.#now() + this.#ttlMs,
      cancelTimer: this.#schedule(() => {
        if (this.#roots.get(rootId)?.tokens.get(tokenId) === entry) this.#dropToken(rootId, tokenId);
      }, this.#ttlMs),
    };
    slot.tokens.set(tokenId, entry);
  }

  /**
   * Whether this exact token string was verified here before against a row whose token_hash is
   * still `tokenHash`: then it would verify again, and authentication may skip the derivation.
   */
  knowsToken(rootId: string, tokenId: string, proof: Uint8Array, tokenHash: Uint8Array): boolean {
    const entry = this.#liveToken(rootId, tokenId);
    return entry !== undefined && sameVerifiedToken(entry, proof, tokenHash);
  }

  /**
   * A copy of the environment key this very token string unwrapped earlier for this very binding
   * (scope), or undefined. The caller wipes it.
   */
  tokenKey(rootId: string, entryFor: { id: string; binding: string }, proof: Uint8Array): Uint8Array | undefined {
    const entry = this.#liveToken(rootId, entryFor.id);
    if (!entry || entry.binding !== entryFor.binding) return undefined;
    return timingSafeEqual(entry.proof, proof) ? Uint8Array.from(entry.envKey) : undefined;
  }

  /**
   * Names a secret without holding it (a master key, a whole keyed token): its HMAC under this
   * process's random key. The caches compare it; concurrent requests presenting the same master
   * key find each other's derivation by it. Computed once per request.
   */
  proof(secret: Uint8Array | string): Uint8Array {
    return this.#proof(secret);
  }

  /** Whether an environment key unwrapped by this token is held (for tests and diagnostics; never the key). */
  holdsToken(tokenId: string): boolean {
    return [...this.#roots.values()].some((slot) => slot.tokens.has(tokenId));
  }

  /** The token was revoked: wipes the environment key its pulls left here, whichever root holds it. */
  dropToken(tokenId: string): void {
    for (const rootId of [...this.#roots.keys()]) this.#dropToken(rootId, tokenId);
  }

  /** Decrypted values of one (project, environment), valid only at the root's `revision` (resolved-values.ts). */
  resolved<T>(rootId: string, scope: string, revision: number): ReadonlyMap<string, T> | undefined {
    return this.#roots.get(rootId)?.resolved.at<T>(scope, revision);
  }

  lastResolved<T>(rootId: string, scope: string): ReadonlyMap<string, T> | undefined {
    return this.#roots.get(rootId)?.resolved.last<T>(scope);
  }

  /** Kept only while a key of this root is held: decrypted values live no longer than a key to decrypt them. */
  rememberResolved<T>(rootId: string, scope: string, revision: number, values: ReadonlyMap<string, T>): void {
    const slot = this.#roots.get(rootId);
    if (slot && this.#holdsKey(slot)) slot.resolved.remember(scope, revision, values);
  }

  rendered(rootId: string, scope: string, revision: number, variant: string): string | undefined {
    return this.#roots.get(rootId)?.resolved.rendered(scope, revision, variant);
  }

  rememberRendered(rootId: string, scope: string, revision: number, variant: string, body: string): void {
    this.#roots.get(rootId)?.resolved.rememberRendered(scope, revision, variant, body);
  }

  /**
   * Wipes every key and decrypted value held for this root, every session's unseal included: sealing
   * is the way to get a root's key out of memory now. Returns whether an admin had it unsealed.
   */
  seal(rootId: string): boolean {
    const slot = this.#roots.get(rootId);
    if (!slot) return false;
    const wasUnsealed = this.isUnsealed(rootId);
    slot.admins.forEach(wipe);
    slot.admins.clear();
    slot.api.forEach(wipe);
    slot.tokens.forEach(wipeToken);
    slot.tokens.clear();
    slot.resolved.clear();
    this.#roots.delete(rootId);
    return wasUnsealed;
  }

  sealAll(): void {
    for (const rootId of [...this.#roots.keys()]) this.seal(rootId);
  }

  #slot(rootId: string): RootSlot {
    const slot = this.#roots.get(rootId) ?? emptySlot();
    this.#roots.set(rootId, slot);
    return slot;
  }

  #proof(masterKey: Uint8Array | string): Uint8Array {
    // Computed on every API request: crypto/hash.ts keeps node:crypto's native HMAC for this.
    return hmacSha256(this.#proofKey, masterKey);
  }

  #dropAdmin(rootId: string, holder: string): void {
    const slot = this.#roots.get(rootId);
    const held = slot?.admins.get(holder);
    if (!slot || !held) return;
    wipe(held);
    slot.admins.delete(holder);
    this.#forgetIfEmpty(rootId, slot);
  }

  #dropApi(rootId: string, matches: (entry: ApiEntry) => boolean): void {
    const slot = this.#roots.get(rootId);
    if (!slot) return;
    const [gone, kept] = [slot.api.filter(matches), slot.api.filter((entry) => !matches(entry))];
    gone.forEach(wipe);
    slot.api = kept;
    this.#forgetIfEmpty(rootId, slot);
  }

  #liveToken(rootId: string, tokenId: string): TokenEntry | undefined {
    const entry = this.#roots.get(rootId)?.tokens.get(tokenId);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#dropToken(rootId, tokenId);
      return undefined;
    }
    return entry;
  }

  #dropToken(rootId: string, tokenId: string): void {
    const slot = this.#roots.get(rootId);
    const entry = slot?.tokens.get(tokenId);
    if (!slot || !entry) return;
    wipeToken(entry);
    slot.tokens.delete(tokenId);
    this.#forgetIfEmpty(rootId, slot);
  }

  #holdsKey(slot: RootSlot): boolean {
    return slot.admins.size > 0 || slot.api.length > 0 || slot.tokens.size > 0;
  }

  #forgetIfEmpty(rootId: string, slot: RootSlot): void {
    if (this.#holdsKey(slot)) return;
    slot.resolved.clear();
    this.#roots.delete(rootId);
  }
}
