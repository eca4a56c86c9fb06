import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { open, seal } from '../../src/crypto/aead.js';
import { createKdf, DEFAULT_KDF_PARAMS } from '../../src/crypto/kdf.js';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { BIN } from '../processes.js';
import { sqliteOf } from '../../src/db/open.js';
import { seedChain } from '../seed.js';
import type { Sizes } from '../sizes.js';
import { figure, round, type ScenarioResult, timed } from '../stats.js';

const run = promisify(execFile);
const actor = { name: 'bench' };
const tempDir = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `sf-bench-${name}-`));

/** One derivation at the stored parameters, through our Kdf and through node:crypto directly. */
export async function unseal(sizes: Sizes): Promise<ScenarioResult> {
  const kdf = createKdf({ concurrency: 1 });
  const params = DEFAULT_KDF_PARAMS;
  const ours: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < sizes.kdfRuns; i++) {
    ours.push((await timed(() => kdf.derive(masterKeyBytes(`sfmk_bench_${i}`), randomBytes(16), params))).ms);
    const maxmem = 128 * params.N * params.r * params.p + 32 * 1024 * 1024;
    const derive = () =>
      new Promise<Buffer>((resolve, reject) =>
        scrypt(`sfmk_bench_${i}`, randomBytes(16), 32, { N: params.N, r: params.r, p: params.p, maxmem }, (e, k) =>
          e ? reject(e) : resolve(k),
        ),
      );
    direct.push((await timed(derive)).ms);
  }
  return {
    name: 'unseal',
    description: `One key derivation: scrypt N=2^${Math.log2(params.N)}, r=${params.r}, p=${params.p} (about ${Math.round((128 * params.N * params.r) / 2 ** 20)} MiB), on libuv's thread pool`,
    figures: {
      'derivation (secretsfly Kdf)': figure('ms', ours),
      'derivation (node:crypto scrypt)': figure('ms', direct),
    },
    goals: [],
  };
}

/** `secretsfly rotate --reencrypt` of a whole tree, as a child process, timed from outside. */
export async function reencrypt(sizes: Sizes, log: (line: string) => void): Promise<ScenarioResult> {
  const dataDir = tempDir('reencrypt');
  const { projects, keys, versions } = sizes.reencrypt;
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir }));
  const chain = Array.from({ length: projects }, (_, i) => (i === 0 ? 'tree' : `tree-${i}`));
  const seeded = await seedChain(ctx, {
    chain,
    environment: 'prod',
    keysPerProject: keys,
    versionsPerKey: versions,
    valueBytes: 100,
  });
  await ctx.close();
  const keyFiles = [path.join(dataDir, 'key-0')];
  fs.writeFileSync(keyFiles[0]!, seeded.masterKey);
  const times: number[] = [];
  try {
    for (let i = 1; i <= sizes.runs; i++) {
      const next = path.join(dataDir, `key-${i}`);
      fs.writeFileSync(next, `bench-master-key-number-${i}-${'k'.repeat(16)}`);
      const { ms } = await timed(() =>
        run(
          process.execPath,
          [BIN, 'rotate', 'tree', '--reencrypt', '--master-key-file', keyFiles[i - 1]!, '--new-master-key-file', next],
          {
            env: { PATH: process.env.PATH, DATA_DIR: dataDir },
            maxBuffer: 1024 * 1024,
          },
        ),
      );
      keyFiles.push(next);
      times.push(ms / 1000);
      log(`  run ${i}: ${seeded.versions} versions re-encrypted in ${round(ms / 1000)} s`);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const time = figure('s', times);
  return {
    name: 'reencrypt',
    description: `secretsfly rotate --reencrypt of a tree of ${projects} projects holding ${seeded.versions} secret versions (100-byte values), whole CLI process including two key derivations`,
    figures: {
      'rotate --reencrypt': time,
      'versions per second': figure(
        'versions/s',
        times.map((s) => seeded.versions / s),
      ),
    },
    goals: seeded.versions >= 100_000 ? [{ text: '100 000 versions < 15 s', met: time.median < 15 }] : [],
    notes:
      seeded.versions < 100_000
        ? [`${seeded.versions} versions in this mode; run without --quick for the 100 000-version goal`]
        : [],
  };
}

/**
 * Resolve the leaf of a chain of projects that each hold the same keys: the first time after an
 * unseal (every winner decrypted), after one value changed (only it is decrypted), and unchanged.
 */
export async function resolveDepth(sizes: Sizes): Promise<ScenarioResult> {
  const dataDir = tempDir('depth');
  const { projects, keys } = sizes.depth;
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir }));
  try {
    const chain = Array.from({ length: projects }, (_, i) => `level-${i}`);
    const { masterKey } = await seedChain(ctx, {
      chain,
      environment: 'prod',
      keysPerProject: keys,
      versionsPerKey: 1,
      valueBytes: 100,
    });
    const access = { masterKey: masterKeyBytes(masterKey) };
    const leaf = { project: chain[chain.length - 1]!, environment: 'prod' };
    const root = await ctx.projects.byName(chain[0]!);
    // The unseal of one admin session, as the UI makes it.
    const holder = 'benchmark-session';
    const resolveUnsealed = () => ctx.secrets.resolve(leaf, { unsealedBy: holder });
    const first: number[] = [];
    const changed: number[] = [];
    const warm: number[] = [];
    const metadata: number[] = [];
    for (let i = 0; i < sizes.resolveRuns; i++) {
      // Seal (wiping every decrypted value) and unseal: the derivation is not timed, the resolve is.
      await ctx.keys.seal(root, actor);
      await ctx.keys.unseal(root, access.masterKey, holder, actor);
      const { ms, result } = await timed(resolveUnsealed);
      if (result.size !== keys) throw new Error(`resolved ${result.size} keys, expected ${keys}`);
      first.push(ms);
      await ctx.secrets.set({ ...leaf, key: `KEY_${i % keys}`, value: `changed-${i}`.padEnd(100, 'x') }, access, actor);
      changed.push((await timed(resolveUnsealed)).ms);
      warm.push((await timed(resolveUnsealed)).ms);
      metadata.push((await timed(() => ctx.secrets.list(leaf))).ms);
    }
    const firstFigure = figure('ms', first);
    return {
      name: 'resolve-depth',
      description: `Resolve the leaf of a chain of ${projects} projects with ${keys} keys each (${projects * keys} heads, ${keys} winners)`,
      figures: {
        'first resolve after unseal (decrypts every winner)': firstFigure,
        'after one value changed (decrypts it)': figure('ms', changed),
        'unchanged (cached)': figure('ms', warm),
        'list keys only (no values)': figure('ms', metadata),
      },
      goals:
        projects >= 10 && keys >= 1000
          ? [{ text: 'resolve < 5 ms (first resolve, every value decrypted)', met: firstFigure.median < 5 }]
          : [],
    };
  } finally {
    await ctx.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Database bytes per stored version of a 100-byte value (WAL checkpointed, free pages excluded). */
export async function storage(sizes: Sizes): Promise<ScenarioResult> {
  const dataDir = tempDir('storage');
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir }));
  try {
    const used = () => {
      sqliteOf(ctx.database).pragma('wal_checkpoint(TRUNCATE)');
      const pages = Number(sqliteOf(ctx.database).pragma('page_count', { simple: true }));
      const free = Number(sqliteOf(ctx.database).pragma('freelist_count', { simple: true }));
      return (pages - free) * Number(sqliteOf(ctx.database).pragma('page_size', { simple: true }));
    };
    const before = used();
    const keys = Math.max(1, Math.floor(sizes.storageVersions / 10));
    const { versions } = await seedChain(ctx, {
      chain: ['store'],
      environment: 'prod',
      keysPerProject: keys,
      versionsPerKey: 10,
      valueBytes: 100,
    });
    const perVersion = (used() - before) / versions;
    return {
      name: 'storage',
      description: `Database bytes per secret version: ${versions} versions of 100-byte values (${keys} keys × 10 versions)`,
      figures: {
        'bytes per version': figure('bytes', [perVersion]),
        'ciphertext bytes per version': figure('bytes', [1 + 24 + 100 + 16]),
      },
      goals: [],
    };
  } finally {
    await ctx.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** XChaCha20-Poly1305 (ours, pure JS) next to node:crypto's AES-256-GCM, seal + open of 100 bytes. */
export async function cryptoFloor(sizes: Sizes): Promise<ScenarioResult> {
  const key = new Uint8Array(randomBytes(32));
  const plaintext = new Uint8Array(randomBytes(100));
  const aad = new Uint8Array(randomBytes(60));
  const measure = (op: () => void) => {
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) {
      let ops = 0;
      const end = performance.now() + sizes.cryptoMs;
      while (performance.now() < end) {
        for (let i = 0; i < 50; i++) op();
        ops += 50;
      }
      runs.push((ops / sizes.cryptoMs) * 1000);
    }
    return runs;
  };
  const xchacha = measure(() => {
    open(key, seal(key, plaintext, aad), aad);
  });
  const aes = measure(() => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    Buffer.concat([decipher.update(sealed), decipher.final()]);
  });
  const ours = figure('ops/s', xchacha);
  return {
    name: 'crypto-floor',
    description: 'Seal + open of a 100-byte value with AAD, one core',
    figures: {
      'XChaCha20-Poly1305 (@noble/ciphers)': ours,
      'AES-256-GCM (node:crypto)': figure('ops/s', aes),
      'µs per value (ours)': figure(
        'µs',
        xchacha.map((ops) => 1e6 / ops),
      ),
    },
    goals: [],
  };
}
