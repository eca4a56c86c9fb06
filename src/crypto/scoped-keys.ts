import { hkdfSync, randomBytes } from 'node:crypto';
import { open, seal } from './aead.js';

/**
 * Scoped keys (docs/crypto.md, "The key hierarchy"): the key of one (root,
 * environment), and the two keys a keyed service token carries. Every key here comes out of
 * HKDF-SHA256 (RFC 5869) with its own label, so no key can stand in for another.
 */

const encoder = new TextEncoder();
const KEY_BYTES = 32;
/** HKDF's salt is a fixed, public label: every input key here is already 256 uniform random bits. */
const SALT = encoder.encode('secretsfly-hkdf-v1');

// JSON of a fixed-order array: unambiguous whatever characters the parts hold.
const label = (parts: readonly unknown[]) => encoder.encode(JSON.stringify(parts));

function hkdf(ikm: Uint8Array, info: readonly unknown[], length = KEY_BYTES): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, SALT, label(info), length));
}

/**
 * The key of one environment of one root: HKDF from the root's data key. HKDF is a PRF keyed by
 * the data key, so neither another environment's key nor the data key can be computed from it.
 */
export function environmentKey(dek: Uint8Array, rootId: string, environmentId: string): Uint8Array {
  return hkdf(dek, ['sf-env-key-v1', rootId, environmentId]);
}

/** `sfst_k1_<16 hex id>_<43 chars: 256 random bits>`: a keyed service token. */
export const KEYED_TOKEN = /^sfst_k1_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** `sfzk_<16 hex id>_<43 chars>`: a keyed token's authentication key alone (the zero-knowledge pull). */
export const TOKEN_PROOF = /^sfzk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface TokenKeys {
  /** Proves the token; the server keeps only its SHA-256. */
  readonly authKey: Uint8Array;
  /** Unwraps the token's environment key; never stored, and never sent on a zero-knowledge pull. */
  readonly wrappingKey: Uint8Array;
}

export function newKeyedToken(id: string): string {
  return `sfst_k1_${id}_${randomBytes(32).toString('base64url')}`;
}

/** 43 base64url characters as 32 bytes, or undefined when not the one canonical spelling of them. */
export function decodeKey43(text: string): Uint8Array | undefined {
  if (text.length !== 43) return undefined;
  // Its own memory, not Node's shared pool (Buffer.from): the caller's wipe then leaves no copy.
  const decoded = Buffer.allocUnsafeSlow(KEY_BYTES);
  const written = decoded.write(text, 'base64url');
  if (written !== KEY_BYTES || decoded.toString('base64url') !== text) {
    decoded.fill(0);
    return undefined;
  }
  return new Uint8Array(decoded.buffer, decoded.byteOffset, KEY_BYTES);
}

/**
 * One HKDF output of 64 bytes, split: A = T(1), W = T(2). Each block is HMAC(PRK, …) with a PRK only
 * S gives, so A reveals nothing of W (the way TLS splits one key block into its keys). One call
 * rather than two halves the cost on the pull path (node's hkdfSync costs ~12 µs a call here).
 */
export function tokenKeys(id: string, secret: Uint8Array): TokenKeys {
  const both = hkdf(secret, ['sf-token-keys-v1', id], 2 * KEY_BYTES);
  const keys = { authKey: both.slice(0, KEY_BYTES), wrappingKey: both.slice(KEY_BYTES) };
  both.fill(0);
  return keys;
}

/** The parts of a keyed token string, or undefined when it is not one. The caller wipes the keys. */
export function parseKeyedToken(token: string): ({ id: string } & TokenKeys) | undefined {
  const match = KEYED_TOKEN.exec(token);
  const secret = match && decodeKey43(match[2]!);
  if (!match || !secret) return undefined;
  const keys = tokenKeys(match[1]!, secret);
  secret.fill(0);
  return { id: match[1]!, ...keys };
}

/** The credential of a zero-knowledge pull: the token's id and authentication key, nothing that unwraps. */
export function tokenProof(id: string, authKey: Uint8Array): string {
  return `sfzk_${id}_${Buffer.from(authKey).toString('base64url')}`;
}

export function parseTokenProof(proof: string): { id: string; authKey: Uint8Array } | undefined {
  const match = TOKEN_PROOF.exec(proof);
  const authKey = match && decodeKey43(match[2]!);
  return match && authKey ? { id: match[1]!, authKey } : undefined;
}

/**
 * What a token's wrapped environment key is bound to: the token, its root, its environment (id and
 * name) and its project's chain from the root down (ids and names). None of these ever changes
 * (projects and environments are never renamed or re-parented), and binding them lets a
 * zero-knowledge client trust which scope it was answered for and where each value comes from.
 */
export interface TokenKeyBinding {
  readonly tokenId: string;
  readonly rootId: string;
  readonly environmentId: string;
  readonly environmentName: string;
  readonly chain: readonly { readonly id: string; readonly name: string }[];
}

/** The binding as the bytes of the AAD (also how the keystore tells two bindings apart). */
export const bindingLabel = (b: TokenKeyBinding): string =>
  JSON.stringify([
    'sf-token-env-key-v1',
    b.tokenId,
    b.rootId,
    b.environmentId,
    b.environmentName,
    b.chain.map((p) => [p.id, p.name]),
  ]);

const bindingAad = (b: TokenKeyBinding) => encoder.encode(bindingLabel(b));

export function wrapEnvironmentKey(wrappingKey: Uint8Array, envKey: Uint8Array, binding: TokenKeyBinding): Uint8Array {
  return seal(wrappingKey, envKey, bindingAad(binding));
}

/** Throws DecryptionFailed for another token's wrapped key, a wrong binding or an altered blob. */
export function unwrapEnvironmentKey(
  wrappingKey: Uint8Array,
  wrapped: Uint8Array,
  binding: TokenKeyBinding,
): Uint8Array {
  return open(wrappingKey, wrapped, bindingAad(binding));
}
