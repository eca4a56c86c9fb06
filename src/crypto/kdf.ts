import { scrypt } from 'node:crypto';
import pLimit from 'p-limit';

export interface KdfParams {
  readonly alg: 'scrypt';
  /** Bumped whenever the meaning of the other fields changes. */
  readonly v: 1;
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's recommended scrypt cost (2^17, 8, 1): about 128 MiB and a third of a second per derivation. */
export const DEFAULT_KDF_PARAMS: KdfParams = Object.freeze({ alg: 'scrypt', v: 1, N: 2 ** 17, r: 8, p: 1 });

export const KEY_BYTES = 32;

export interface Kdf {
  /** Derives 32 bytes on libuv's thread pool: the event loop keeps serving while it runs. */
  derive(secret: Uint8Array, salt: Uint8Array, params: KdfParams): Promise<Uint8Array>;
  /** How many derivations have started since this Kdf was made (tests and benchmarks read it). */
  readonly derivations: number;
}

export function parseKdfParams(json: string): KdfParams {
  const parsed = JSON.parse(json) as Partial<KdfParams>;
  const { alg, v, N, r, p } = parsed;
  const isPowerOfTwo = typeof N === 'number' && N > 1 && (N & (N - 1)) === 0;
  if (alg !== 'scrypt' || v !== 1 || !isPowerOfTwo || !Number.isInteger(r) || !Number.isInteger(p)) {
    throw new Error('unsupported key derivation parameters');
  }
  return { alg, v, N: N as number, r: r as number, p: p as number };
}

/**
 * `concurrency` caps how many derivations run at once: each scrypt at 2^17 holds ~128 MiB, and
 * more parallel derivations than cores only make each one slower.
 */
export function createKdf({ concurrency }: { concurrency: number }): Kdf {
  const limit = pLimit(concurrency);
  let derivations = 0;
  return {
    get derivations() {
      return derivations;
    },
    derive(secret, salt, params) {
      return limit(() => {
        derivations += 1;
        return new Promise<Uint8Array>((resolve, reject) => {
          const maxmem = 128 * params.N * params.r * params.p + 32 * 1024 * 1024;
          scrypt(secret, salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) =>
            error ? reject(error) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.length)),
          );
        });
      });
    },
  };
}
