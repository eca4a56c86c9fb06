import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { parseKeyedToken, tokenProof } from '../crypto/scoped-keys.js';
import type { KdfParams } from '../crypto/kdf.js';
import { masterKeyBytes } from '../keys/master-key.js';
import { createLogger } from '../logger.js';
import type { ContextOverrides } from '../main.js';
import type { RunningServer } from './server.js';

type Start = (
  config: ReturnType<typeof loadConfig>,
  options: {
    logger: ReturnType<typeof createLogger>;
    overrides: ContextOverrides;
    announce: () => void;
    warmUp: false;
  },
) => Promise<RunningServer>;

/** The scratch tree's root key only guards throwaway values, deleted a moment later. */
const SCRATCH_KDF: KdfParams = { alg: 'scrypt', v: 1, N: 2 ** 10, r: 8, p: 1 };
const SCRATCH_ACTOR = { name: 'system:warm-up' };
const SCRATCH_KEYS = 50;
const WARM_UP_ROUNDS = 10;

/**
 * Runs the pull path once before the server says it listens, so its first real pull does not pay
 * for compiling it: V8 runs new code slowly until it has optimised it, the cipher (pure JavaScript)
 * most of all, and each SQL query is built and prepared on first use. `ctx.warmUp` prepares this
 * server's own queries (they look up ids that do not exist); then a throwaway server on a scratch
 * database in the temporary folder, with throwaway keys and values, answers keyed, sealed and classic
 * pulls through the same code, and is deleted. Nothing of it touches this server's data, audit
 * log or limits. Best effort: a failure only leaves the first pull slower. Measured by
 * `secretsfly bench --only pull-cold-start`.
 */
export async function warmUp(ctx: { warmUp(): Promise<void> }, start: Start): Promise<{ complete: boolean }> {
  await ctx.warmUp();
  let dir: string | undefined;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secretsfly-warm-up-'));
    const config = loadConfig({
      DATA_DIR: dir,
      PORT: '0',
      HOST: '127.0.0.1',
      UI_ENABLED: 'false',
      AVAILABLE_ENVIRONMENTS: 'prod',
      LOG_LEVEL: 'error',
    });
    const scratch = await start(config, {
      logger: createLogger('error', () => {}),
      overrides: { kdfParams: SCRATCH_KDF },
      announce: () => {},
      warmUp: false,
    });
    try {
      await pullThrough(scratch);
    } finally {
      await scratch.close();
    }
    return { complete: true };
  } catch {
    // Only the first pull's speed depends on it.
    return { complete: false };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function pullThrough({ ctx, url }: RunningServer): Promise<void> {
  const { masterKey } = await ctx.projects.create({ name: 'warm-up' }, SCRATCH_ACTOR);
  await ctx.projects.create({ name: 'warm-up-app', parent: 'warm-up' }, SCRATCH_ACTOR);
  const access = () => ({ masterKey: masterKeyBytes(masterKey!) });
  const lines = Array.from({ length: SCRATCH_KEYS }, (_, i) => `KEY_${i}=value-${i}-${'x'.repeat(i % 40)}`);
  for (const project of ['warm-up', 'warm-up-app']) {
    await ctx.secrets.importDotenv(
      { project, environment: 'prod', content: lines.join('\n') },
      access(),
      SCRATCH_ACTOR,
    );
  }
  const scope = { project: 'warm-up-app', environment: 'prod', access: 'read' as const };
  const keyed = (await ctx.tokens.create({ ...scope, keyed: access() }, SCRATCH_ACTOR)).token;
  const classic = (await ctx.tokens.create(scope, SCRATCH_ACTOR)).token;
  const parts = parseKeyedToken(keyed)!;
  const proof = tokenProof(parts.id, parts.authKey);
  const calls: [string, Record<string, string>][] = [
    ['/api/v1/status', {}],
    ['/api/v1/secrets', { authorization: `Bearer ${keyed}` }],
    ['/api/v1/secrets?format=dotenv', { authorization: `Bearer ${keyed}` }],
    ['/api/v1/secrets?format=sealed', { authorization: `Bearer ${proof}` }],
    ['/api/v1/secrets', { authorization: `Bearer ${classic}`, 'x-master-key': masterKey! }],
  ];
  // Several rounds, each after a seal (so every one decrypts): V8 optimises a function after it
  // has run a while, and the later rounds run (and settle) the optimised code.
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    for (const [call, headers] of calls) {
      const response = await fetch(`${url}${call}`, { headers, signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
    }
    await ctx.keys.seal(await ctx.projects.byName('warm-up'), SCRATCH_ACTOR); // cold caches again
  }
  parts.authKey.fill(0);
  parts.wrappingKey.fill(0);
}
