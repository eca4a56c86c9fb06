import fs from 'node:fs';
import { type Command, Option } from 'commander';
import { AUDIT_ACTIONS } from '../../src/audit/audit-actions.js';
import {
  type AuditCheckpoint,
  formatCheckpoint,
  MAX_CHECKPOINT_BYTES,
  parseCheckpoint,
} from '../../src/audit/audit-checkpoint.js';
import type { AuditEntry } from '../../src/audit/audit.service.js';
import { loadConfig } from '../../src/config.js';
import { globals, withContext, withNewOrExistingContext } from '../context.js';
import { CliError, cliActor, printJson, printTable, promptHidden, readTextFile, say } from '../io.js';

export function registerAdminCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done by every other command)')
    .action(async (_options, command: Command) => {
      await withNewOrExistingContext(async (ctx) => {
        // createContext has migrated already; this reports the state.
        const { migrateToLatest } = await import('../../src/db/migrate.js');
        const applied = await migrateToLatest(ctx.database.db);
        if (globals(command).json) printJson({ applied, database: ctx.database.location });
        else say(`database ${ctx.database.location} is up to date`);
      });
    });

  const user = program.command('user').description('admin users of the web UI');
  user
    .command('create <username>')
    .description('create an admin user (password from SECRETSFLY_PASSWORD or a prompt)')
    .action(async (username: string, _options, command: Command) => {
      let password = process.env.SECRETSFLY_PASSWORD;
      if (!password && process.stdin.isTTY) {
        password = await promptHidden('Password: ');
        const again = await promptHidden('Again: ');
        if (again !== password) throw new CliError('the passwords do not match');
      }
      if (!password) throw new CliError('no password: set SECRETSFLY_PASSWORD or run in a terminal');
      await withNewOrExistingContext(async (ctx) => {
        const created = await ctx.users.create(username, password, cliActor());
        if (globals(command).json)
          printJson({ id: created.id, username: created.username, created_at: created.createdAt });
        else say(`created admin user "${created.username}"`);
      });
    });

  const env = program.command('env').description('environments (global: every project has every environment)');
  env
    .command('create <name>')
    .description('add an environment')
    .action(async (name: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const created = await ctx.environments.create(name, cliActor());
        if (globals(command).json) printJson({ name: created.name, created_at: created.created_at });
        else say(`created environment "${created.name}"`);
      });
    });
  env
    .command('list')
    .description('list environments')
    .action(async (_options, command: Command) => {
      await withContext(async (ctx) => {
        const rows = await ctx.environments.list();
        if (globals(command).json) printJson(rows.map((row) => ({ name: row.name, created_at: row.created_at })));
        else
          printTable(
            ['NAME', 'CREATED'],
            rows.map((row) => [row.name, row.created_at]),
            'no environments',
          );
      });
    });

  const audit = program
    .command('audit')
    .description('show audit events, newest first; --verify checks the log has not been altered')
    .option('--project <name>', 'only events of this project')
    // Commander refuses any other name with one line listing the valid ones (exit 2).
    .addOption(new Option('--action <name>', 'only events with this action').choices(AUDIT_ACTIONS))
    .option('--limit <n>', 'how many events', '100')
    .option('--verify', 'check the hash chain of the whole log')
    .option('--checkpoint <file>', 'with --verify: also check the log against a checkpoint kept off the server')
    .action(
      async (
        options: { project?: string; action?: string; limit: string; verify?: boolean; checkpoint?: string },
        command: Command,
      ) => {
        const json = globals(command).json;
        // Read before the database is opened: a bad file changes nothing.
        const checkpoint = options.checkpoint === undefined ? undefined : readCheckpoint(options.checkpoint);
        await withContext(async (ctx) => {
          if (options.verify || checkpoint) {
            const result = await ctx.audit.verify(checkpoint);
            if (json) printJson(result);
            else if (result.ok) {
              const matched = checkpoint ? `, and event ${checkpoint.seq} matches the checkpoint` : '';
              process.stdout.write(`audit log intact: ${result.events} events${matched}\n`);
            }
            if (!result.ok) throw new CliError(`audit log altered: ${result.problem}`);
            return;
          }
          const limit = Number(options.limit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit takes 1 to 1000');
          const projects = await ctx.projects.list();
          const names = new Map(projects.map((p) => [p.id, p.name]));
          const projectIds =
            options.project === undefined ? undefined : [(await ctx.projects.byName(options.project)).id];
          const events = await ctx.audit.list({
            ...(projectIds && { projectIds }),
            ...(options.action !== undefined && { action: options.action }),
            limit,
          });
          const projectOf = (e: AuditEntry) => (e.projectId ? (names.get(e.projectId) ?? e.projectId) : null);
          if (json) {
            printJson(
              events.map((e) => ({
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                project: projectOf(e),
                environment: e.environment,
                key: e.key,
                ip: e.ip,
                user_agent: e.userAgent,
                details: e.details,
              })),
            );
            return;
          }
          printTable(
            ['SEQ', 'AT', 'ACTOR', 'ACTION', 'PROJECT', 'ENV', 'KEY', 'DETAILS'],
            events.map((e) => [
              e.seq,
              e.at,
              e.actor,
              e.action,
              projectOf(e),
              e.environment,
              e.key,
              e.details ? JSON.stringify(e.details) : null,
            ]),
            'no audit events',
          );
        });
      },
    );

  audit
    .command('checkpoint')
    .description('print the head of the verified chain (seq and hash) for you to keep off the server')
    .option('--out <file>', 'write it to this file instead of printing it')
    .action(async (options: { out?: string }) => {
      await withContext(async (ctx) => {
        const taken = await ctx.audit.checkpoint();
        if (!taken.ok) throw new CliError(`audit log altered, no checkpoint taken: ${taken.problem}`);
        const line = `${formatCheckpoint(taken.checkpoint)}\n`;
        if (options.out === undefined) return void process.stdout.write(line);
        try {
          // Never over an older checkpoint: that one may be what proves a later rewrite.
          fs.writeFileSync(options.out, line, { flag: 'wx' });
        } catch (error) {
          const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
          throw new CliError(`cannot write ${options.out}: ${exists ? 'it already exists' : 'not writable'}`);
        }
        say(`checkpoint of ${taken.checkpoint.seq} events written to ${options.out}: keep it off this server`);
      });
    });

  /*
   * Backups are SQLite files on both engines, one portable format: with DATABASE_URL, `backup`
   * copies the PostgreSQL database into a new one and `restore` copies one into an empty PostgreSQL
   * database, all or nothing (src/db/copy.ts; tested in test/postgres/copy.test.ts).
   */
  program
    .command('backup <file>')
    .description('write a consistent copy of the database (safe while the server runs)')
    .action(async (file: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const { backupDatabase, backupPostgres } = await import('../../src/db/backup.js');
        if (ctx.database.engine === 'postgres') await backupPostgres(ctx.database.db, file);
        else await backupDatabase(ctx.database.sqlite, file);
        if (globals(command).json) printJson({ backup: file });
        else say(`backed up ${ctx.database.location} to ${file}`);
      });
    });

  program
    .command('restore <file>')
    .description('restore a backup into DATA_DIR, or DATABASE_URL (refuses to overwrite a database without --force)')
    .option('--force', 'replace an existing database')
    .action(async (file: string, options: { force?: boolean }, command: Command) => {
      const config = loadConfig();
      const { restoreDatabase, restorePostgres } = await import('../../src/db/backup.js');
      if (config.databaseUrl === undefined) await restoreDatabase(config.dataDir, file, options.force === true);
      else await restorePostgres(config.databaseUrl, file, options.force === true);
      if (config.databaseUrl === undefined) {
        if (globals(command).json) printJson({ restored: file, data_dir: config.dataDir });
        else say(`restored ${file} into ${config.dataDir}`);
        return;
      }
      const { describePostgres } = await import('../../src/db/postgres.js');
      const database = describePostgres(config.databaseUrl);
      if (globals(command).json) printJson({ restored: file, database });
      else say(`restored ${file} into ${database}`);
    });
}

function readCheckpoint(file: string): AuditCheckpoint {
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (size !== undefined && size > MAX_CHECKPOINT_BYTES) {
    throw new CliError(`${file} is not a secretsfly audit checkpoint: it is too long`);
  }
  try {
    return parseCheckpoint(readTextFile(file, `checkpoint file ${file}`).trim());
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
}
