import type { Command } from 'commander';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { globals } from '../context.js';
import { CliError, printJson, UsageError } from '../io.js';
import { withProgress } from '../progress.js';

/**
 * `secretsfly copy --to <postgres-url>`: moves an installation from SQLite to PostgreSQL. DATA_DIR's
 * database is copied into an empty PostgreSQL database in one transaction and verified row for row
 * (src/db/copy.ts); the audit chain is then checked where it landed. The URL's password is never printed.
 */
export function registerCopyCommand(program: Command): void {
  program
    .command('copy')
    .description("copy DATA_DIR's SQLite database into an empty PostgreSQL database, all or nothing")
    .requiredOption('--to <postgres-url>', 'the PostgreSQL database (postgres://user:password@host:port/name)')
    .action(async (options: { to: string }, command: Command) => {
      if (!/^postgres(ql)?:\/\//i.test(options.to)) {
        throw new UsageError('--to takes a PostgreSQL URL: postgres://user:password@host:port/database');
      }
      const config = loadConfig();
      const { describePostgres, openPostgres, unreachablePostgres } = await import('../../src/db/postgres.js');
      const { openDatabase } = await import('../../src/db/open.js');
      const { migrateToLatest } = await import('../../src/db/migrate.js');
      const { copyDatabase, COPIED_TABLES } = await import('../../src/db/copy.js');
      const { sql } = await import('kysely');
      const { createAuditService } = await import('../../src/audit/audit.service.js');
      const to = describePostgres(options.to);

      const source = openDatabase(config.dataDir, { create: false });
      const target = openPostgres(options.to);
      try {
        await migrateToLatest(source.db);
        try {
          // Connect first: migrateToLatest's error no longer carries the driver's code.
          await sql`select 1`.execute(target.db);
        } catch (error) {
          throw forTo(unreachablePostgres(error, options.to), to);
        }
        await migrateToLatest(target.db);
        const counts = await withProgress('copy', (onProgress) => copyDatabase(source.db, target.db, {}, onProgress));
        // The chain is recomputed from what PostgreSQL returns: the copy holds together as a log.
        const audit = createAuditService({
          db: target.db,
          now: () => new Date(),
          logger: { error: () => undefined, warn: () => undefined },
        });
        const verified = await audit.verify();
        if (globals(command).json) printJson({ from: source.file, to, tables: counts, audit: verified });
        else {
          const lines = [`copied ${source.file} to ${to}:`];
          for (const table of COPIED_TABLES)
            lines.push(`  ${table.padEnd(Math.max(...COPIED_TABLES.map((t) => t.length)))} ${counts[table]} rows`);
          if (verified.ok) lines.push(`audit log intact there: ${verified.events} events`);
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (!verified.ok) throw new CliError(`copied, but the audit log there does not verify: ${verified.problem}`);
      } finally {
        await source.close();
        await target.db.destroy();
      }
    });
}

/** unreachablePostgres speaks of DATABASE_URL; here the URL came from --to. */
function forTo(error: unknown, to: string): unknown {
  if (!(error instanceof ConfigError)) return error;
  return new CliError(
    error.message.replace(/^DATABASE_URL \([^)]*\)/, `--to ${to}`).replace(/: fix it or unset DATABASE_URL$/, ''),
  );
}
