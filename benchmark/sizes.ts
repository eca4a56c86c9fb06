/** How big and how long each scenario runs. `tiny` only proves the command works (the test suite). */
export type Mode = 'full' | 'quick' | 'tiny';

export const SIZES = {
  full: {
    runs: 3,
    loadSeconds: 10,
    isolationSeconds: 5,
    wrongKeys: 10,
    warmSeconds: 1,
    kdfRuns: 5,
    coldRuns: 9,
    coldClassicRuns: 5,
    reencrypt: { projects: 5, keys: 2000, versions: 10 },
    depth: { projects: 10, keys: 1000 },
    resolveRuns: 30,
    storageVersions: 10000,
    cryptoMs: 400,
    stampChecks: 2000,
  },
  quick: {
    runs: 2,
    loadSeconds: 3,
    isolationSeconds: 3,
    wrongKeys: 10,
    warmSeconds: 1,
    kdfRuns: 3,
    coldRuns: 5,
    coldClassicRuns: 3,
    reencrypt: { projects: 5, keys: 200, versions: 5 },
    depth: { projects: 10, keys: 1000 },
    resolveRuns: 6,
    storageVersions: 2000,
    cryptoMs: 150,
    stampChecks: 1000,
  },
  tiny: {
    runs: 1,
    loadSeconds: 1,
    isolationSeconds: 1,
    // Two wrong keys still run two derivations while the good pulls load the server.
    wrongKeys: 2,
    // No warm-up: tiny figures only prove the command works.
    warmSeconds: 0,
    kdfRuns: 1,
    coldRuns: 1,
    // The classic contrast runs scrypt in a fresh process: seconds the test does not need.
    coldClassicRuns: 0,
    reencrypt: { projects: 2, keys: 10, versions: 2 },
    depth: { projects: 3, keys: 20 },
    resolveRuns: 1,
    storageVersions: 50,
    cryptoMs: 20,
    stampChecks: 50,
  },
} as const;

export type Sizes = (typeof SIZES)[Mode];
