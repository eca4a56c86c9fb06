import { randomBytes } from 'node:crypto';
import { open, seal } from '../crypto/aead.js';
import { decryptValue, encryptValue } from '../crypto/envelope.js';
import { environmentKey, newKeyedToken, parseKeyedToken } from '../crypto/scoped-keys.js';
import { hmacSha256, sha256 } from '../crypto/hash.js';

/**
 * Runs the pull path's code once before the first real request, so that request does not pay for
 * compiling it: its SQL queries (built and prepared once each), the cipher (pure JavaScript, ~50×
 * slower before V8 optimises it), the key derivations, and the HTTP stack (one status request).
 * Uses throwaway keys, looks up ids that do not exist, and touches nothing anyone could see. Measured by
 * `secretsfly bench --only pull-cold-start`.
 */
export async function warmUp(ctx: { warmUp(): Promise<void> }, url: string): Promise<void> {
  await ctx.warmUp();
  const key = new Uint8Array(randomBytes(32));
  const context = { rootId: 'warm-up', projectId: 'warm-up', environmentId: 'warm-up', key: 'WARM_UP', version: 1 };
  // Stored ciphertexts arrive as Buffers of every length: the warm-up uses both kinds and many
  // sizes, or V8 would optimise for one shape and start over on the first real value.
  const blobs = [8, 40, 100, 300].flatMap((size) => {
    const blob = encryptValue(key, 'x'.repeat(size), context);
    return [blob, Buffer.from(blob)];
  });
  // In rounds with a pause between: V8 optimises on background threads, and a round that runs
  // after a pause runs (and settles) the optimised code.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < WARM_UP_DECRYPTIONS / 3; i++) decryptValue(key, blobs[i % blobs.length]!, context);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const aad = new Uint8Array(32);
  open(key, seal(key, key, aad), aad);
  const token = newKeyedToken('0000000000000000');
  parseKeyedToken(token);
  environmentKey(key, 'warm-up', 'warm-up');
  hmacSha256(key, token);
  sha256(token);
  key.fill(0);
  // Not /api/v1/secrets: even refused, it would spend the loopback address's API allowance.
  await fetch(`${url}/api/v1/status`, { signal: AbortSignal.timeout(2_000) })
    .then((response) => response.arrayBuffer())
    .catch(() => undefined);
}

/** Enough for V8 to optimise the cipher (~10 µs a value then, against ~500 µs for the first). */
const WARM_UP_DECRYPTIONS = 4_000;
