import { type Kysely, type MigrationResultSet, Migrator } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { Database } from './database.js';

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    // The driver's code stays readable (a refused connection is a setting to fix: postgres.ts).
    throw Object.assign(
      new Error(`migration ${failed} failed: ${String((result.error as Error).message ?? result.error)}`, {
        cause: result.error,
      }),
      { code: (result.error as { code?: unknown }).code },
    );
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
