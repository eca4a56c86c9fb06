import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CLI and integration tests run real scrypt derivations and child processes.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make every scrypt slower.
    maxWorkers: 2,
  },
});
