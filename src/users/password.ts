import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DEFAULT_KDF_PARAMS, type Kdf, type KdfParams } from '../crypto/kdf.js';

/** `scrypt$1$<N>$<r>$<p>$<salt b64>$<hash b64>`: parameters travel with the hash so they can be raised. */
export async function hashPassword(
  kdf: Kdf,
  password: string,
  params: KdfParams = DEFAULT_KDF_PARAMS,
): Promise<string> {
  const salt = new Uint8Array(randomBytes(16));
  const hash = await kdf.derive(new TextEncoder().encode(password), salt, params);
  const encoded = [
    'scrypt',
    params.v,
    params.N,
    params.r,
    params.p,
    Buffer.from(salt).toString('base64'),
    Buffer.from(hash).toString('base64'),
  ];
  return encoded.join('$');
}

export async function verifyPassword(kdf: Kdf, password: string, stored: string): Promise<boolean> {
  const [alg, v, N, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || v !== '1' || !salt || !hash) return false;
  const params: KdfParams = { alg: 'scrypt', v: 1, N: Number(N), r: Number(r), p: Number(p) };
  const expected = Buffer.from(hash, 'base64');
  const actual = await kdf.derive(new TextEncoder().encode(password), Buffer.from(salt, 'base64'), params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
