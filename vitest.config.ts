import { defineConfig } from 'vitest/config';

/**
 * `npm test` runs the suite twice: on SQLite, then with SECRETSFLY_TEST_ENGINE=postgres on a real
 * PostgreSQL (test/setup/postgres.ts starts one for the run; test/helpers/postgres.ts).
 */
const onPostgres = process.env.SECRETSFLY_TEST_ENGINE === 'postgres';

/**
 * Left out of the PostgreSQL pass: files whose subject is the SQLite file itself, which has no
 * PostgreSQL counterpart (run there, they would test nothing new). Everything else, unit tests
 * included, runs on both engines.
 */
const SQLITE_ONLY = [
  // SQLite's online backup of secretsfly.db under a writing server, the DATA_DIR in-use lock
  // (PostgreSQL's backup and restore: test/postgres/copy.test.ts and test/cli/cli-admin.test.ts).
  'test/deploy/backup.test.ts',
  // PRAGMA data_version between two SQLite connections; PostgreSQL's change stamp is another mechanism.
  'test/unit/changes.test.ts',
  // Old ciphertexts and keys left in secretsfly.db-wal and free pages after a rotation (WAL, secure_delete).
  'test/cli/rotation-at-rest.test.ts',
  // The 0.1.0 release's DATA_DIR fixture is a SQLite file; its upgrade is an upgrade of that file.
  'test/integration/scoped-keys-upgrade.test.ts',
  // Where the CLI looks for secretsfly.db when DATA_DIR is unset or missing.
  'test/cli/datadir-missing.test.ts',
  // A DATA_DIR SQLite cannot create secretsfly.db in; with DATABASE_URL the CLI never writes there.
  'test/cli/datadir-unusable.test.ts',
];

/** Whose subject is PostgreSQL itself (several instances, copying into it): the PostgreSQL pass only. */
const POSTGRES_ONLY = ['test/multi/**', 'test/postgres/**'];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(onPostgres ? SQLITE_ONLY : POSTGRES_ONLY)],
    globalSetup: ['test/setup/postgres.ts'],
    // CLI and integration tests run real scrypt derivations and child processes.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make every scrypt slower.
    maxWorkers: 2,
    // The JSON reports let .ci/run print a plain "N passed, N failed" line per engine.
    reporters: ['default', ['json', { outputFile: onPostgres ? 'test-results-postgres.json' : 'test-results.json' }]],
  },
});
