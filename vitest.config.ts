import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CLI and integration tests run real scrypt derivations and child processes.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make every scrypt slower.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
