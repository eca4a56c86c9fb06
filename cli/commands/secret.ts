import type { Command } from 'commander';
import { globals, withContext } from '../context.js';
import { SurprisingDotenv } from '../../src/errors.js';
import { describeDotenvWarning, findSurprisingDotenvLines } from '../../src/formats/dotenv-lines.js';
import {
  CliError,
  cliActor,
  dropOneTrailingNewline,
  printJson,
  printTable,
  readTextFile,
  say,
  UsageError,
  valueFrom,
  withMasterKey,
} from '../io.js';
import { withProgress } from '../progress.js';
import { isStructuredType, SECRET_TYPES, type TypedValue, typedJson } from '../../src/secrets/typed-secrets.js';
import type { CertificateMetadata } from '../../src/secrets/typed-validation.js';

const masterKeyOption = ['--master-key-file <path>', "file holding the master key of the project's root"] as const;

function parseVersion(text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
    throw new UsageError(`"${text.slice(0, 20)}" is not a version number`);
  return Number(text);
}

/** What set, delete and rollback print with --json: the new version of the key, where it was written. */
const versionJson = (project: string, environment: string, written: { key: string; version: number }) => ({
  project,
  environment,
  key: written.key,
  version: written.version,
});

/** A certificate in one line: whom it names and when it expires (or expired). */
function describeCertificate(certificate: CertificateMetadata): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? certificate.subject.replace(/\n/g, ', ');
  const expired = Date.parse(certificate.not_after) < Date.now();
  return `${cn}, ${expired ? 'expired' : 'expires'} ${certificate.not_after.slice(0, 10)}`;
}

const collectField = (field: string, fields: string[]) => [...fields, field];

/** `--type` and `--field name=value|name=@file` as a typed value; undefined for a generic one. */
function typedFromOptions(
  options: { type: string; field: string[]; fromFile?: string },
  argument: string | undefined,
): TypedValue | undefined {
  if (options.type === 'generic') {
    if (options.field.length > 0) throw new UsageError(`--field needs --type (${SECRET_TYPES.slice(1).join(', ')})`);
    return undefined;
  }
  if (!isStructuredType(options.type)) throw new UsageError(`--type takes ${SECRET_TYPES.join(', ')}`);
  if (argument !== undefined || options.fromFile !== undefined) {
    throw new UsageError(`a ${options.type} takes --field name=value (or name=@file), not a value`);
  }
  const fields: Record<string, string> = Object.create(null);
  for (const field of options.field) {
    const at = field.indexOf('=');
    if (at < 1) throw new UsageError(`--field takes name=value or name=@file, not "${field.slice(0, 40)}"`);
    const name = field.slice(0, at);
    const value = field.slice(at + 1);
    if (Object.hasOwn(fields, name)) throw new UsageError(`--field ${name} is given twice`);
    fields[name] = value.startsWith('@') ? dropOneTrailingNewline(readTextFile(value.slice(1))) : value;
  }
  return { type: options.type, fields: { ...fields } };
}

export function registerSecretCommands(program: Command): void {
  program
    .command('expiring')
    .description('certificates that expire within the window (expired ones too); exit 1 when there is one')
    .option('--within <duration>', 'how far ahead to look: 12h, 30d …', '30d')
    .action(async (options: { within: string }, command: Command) => {
      const { parseDuration } = await import('../../src/tokens/token-duration.js');
      let seconds: number;
      try {
        seconds = parseDuration(options.within);
      } catch {
        throw new UsageError('--within takes a number and s, m, h or d, e.g. 30d');
      }
      await withContext(async (ctx) => {
        const now = ctx.now();
        const rows = await ctx.secrets.expiring(new Date(now.getTime() + seconds * 1000));
        const days = (at: string) => Math.floor((Date.parse(at) - now.getTime()) / 86_400_000);
        if (globals(command).json) printJson(rows.map((r) => ({ ...r, days_left: days(r.certificate.not_after) })));
        else
          printTable(
            ['PROJECT', 'ENV', 'KEY', 'SUBJECT', 'EXPIRES', 'DAYS LEFT'],
            rows.map((r) => [
              r.project,
              r.environment,
              r.key,
              r.certificate.subject.replace(/\n/g, ', '),
              r.certificate.not_after,
              days(r.certificate.not_after) < 0 ? 'expired' : days(r.certificate.not_after),
            ]),
            `no certificate expires within ${options.within}`,
          );
        if (rows.length > 0) process.exitCode = 1;
      });
    });

  const secret = program.command('secret').description('secrets of a project in an environment');

  secret
    .command('set <project> <env> <KEY> [value]')
    .description('write a new version (value from the argument, --from-file, or stdin; one trailing newline dropped)')
    .option('--from-file <path>', 'read the value from this file')
    .option('--type <type>', `${SECRET_TYPES.join(', ')} (see the README's "Secret types")`, 'generic')
    .option(
      '--field <name=value>',
      'a field of a typed secret; name=@file reads the file (one trailing newline dropped); repeat per field',
      collectField,
      [],
    )
    .option(...masterKeyOption)
    .action(
      async (
        project: string,
        env: string,
        key: string,
        argument: string | undefined,
        options: { fromFile?: string; masterKeyFile?: string; type: string; field: string[] },
        command: Command,
      ) => {
        const typed = typedFromOptions(options, argument);
        const value = typed ? '' : await valueFrom(argument, options.fromFile);
        await withContext((ctx) =>
          withMasterKey(options, async (masterKey) => {
            const written = await ctx.secrets.set(
              { project, environment: env, key, value, typed },
              { masterKey },
              cliActor(),
            );
            if (globals(command).json) printJson(versionJson(project, env, written));
            else say(`${key} is at version ${written.version} in ${project}/${env}${typed ? ` (${typed.type})` : ''}`);
          }),
        );
      },
    );

  secret
    .command('get <project> <env> <KEY>')
    .description('print the resolved value (inherited, references resolved) followed by one newline')
    .option('--raw', 'the value as written, its ${…} references unresolved')
    .option('--field <name>', 'one field of a typed secret, printed alone (e.g. --field password)')
    .option(...masterKeyOption)
    .action(
      async (
        project: string,
        env: string,
        key: string,
        options: { masterKeyFile?: string; raw?: boolean; field?: string },
        command: Command,
      ) => {
        await withContext((ctx) =>
          withMasterKey(options, async (masterKey) => {
            const found = await ctx.secrets.get(
              { project, environment: env, key },
              { masterKey },
              { raw: options.raw === true, revealedTo: cliActor() },
            );
            let value: string | Record<string, string> = found.typed ? typedJson(found.typed) : found.value;
            if (options.field !== undefined) {
              const field = found.typed?.fields[options.field];
              if (field === undefined) {
                throw new CliError(
                  found.typed
                    ? `${key} (a ${found.typed.type}) has no field "${options.field}": it has ${Object.keys(found.typed.fields).join(', ')}`
                    : `${key} is a plain value: it has no fields (leave out --field)`,
                );
              }
              value = field;
            }
            if (globals(command).json)
              printJson({
                key,
                value,
                ...(found.typed && { type: found.typed.type }),
                version: found.version,
                project: found.project,
                environment: env,
              });
            else process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
          }),
        );
      },
    );

  secret
    .command('list <project> <env>')
    .description('resolved keys with versions and source projects, no values')
    .action(async (project: string, env: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const rows = await ctx.secrets.list({ project, environment: env });
        // Titles only: their values live on the hosts that hold them (README, "Host-held secrets").
        const held = await ctx.hostHeld.list({ project, environment: env });
        if (globals(command).json)
          printJson([
            ...rows.map((r) => ({
              key: r.key,
              ...(r.type !== 'generic' && { type: r.type }),
              version: r.version,
              project: r.project,
              inherited: r.inherited,
              updated_at: r.updatedAt,
              ...(r.certificate && { certificate: r.certificate }),
            })),
            ...held.map((h) => ({ key: h.name, type: h.type, held_on_host: h.agent, synced_at: h.syncedAt })),
          ]);
        else {
          printTable(
            ['KEY', 'TYPE', 'VERSION', 'FROM', 'UPDATED'],
            [
              ...rows.map((r) => [
                r.key,
                r.certificate ? `certificate, ${describeCertificate(r.certificate)}` : r.type,
                r.version,
                r.inherited ? `${r.project} (inherited)` : r.project,
                r.updatedAt,
              ]),
              ...held.map((h) => [h.name, h.type, '-', `held on host ${h.agent}`, h.syncedAt]),
            ],
            `no secrets in ${project}/${env}`,
          );
        }
      });
    });

  secret
    .command('history <project> <env> <KEY>')
    .description('versions of a key in this project, with dates, no values')
    .action(async (project: string, env: string, key: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const rows = await ctx.secrets.history({ project, environment: env, key });
        if (globals(command).json)
          printJson(
            rows.map((r) => ({
              version: r.version,
              kind: r.kind,
              deleted: r.deleted,
              created_at: r.createdAt,
              created_by: r.createdBy,
            })),
          );
        else
          printTable(
            ['VERSION', 'CHANGE', 'AT', 'BY'],
            rows.map((r) => [r.version, r.kind, r.createdAt, r.createdBy]),
            'no versions',
          );
      });
    });

  secret
    .command('access-log <project> <env> <KEY>')
    .description('who received or revealed the value of a key of this project: how, when, from where; never the value')
    .action(async (project: string, env: string, key: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const { createAccessLogService } = await import('../../src/secrets/access-log.service.js');
        const entries = await createAccessLogService({
          db: ctx.database.db,
          projects: ctx.projects,
          environments: ctx.environments,
        }).list({
          project,
          environment: env,
          key,
        });
        if (globals(command).json)
          printJson(
            entries.map((e) => ({
              actor: e.actor,
              kind: e.kind,
              id: e.id,
              name: e.name,
              revoked: e.revoked,
              via: e.via,
              first_at: e.firstAt,
              last_at: e.lastAt,
              count: e.count,
              last_ip: e.lastIp,
              last_user_agent: e.lastUserAgent,
              first_seq: e.firstSeq,
              last_seq: e.lastSeq,
            })),
          );
        else
          printTable(
            ['WHO', 'HOW', 'FIRST', 'LAST', 'COUNT', 'FROM'],
            entries.map((e) => [
              e.kind === 'token' ? `token ${e.name ?? '(deleted)'} (${e.id})${e.revoked ? ' revoked' : ''}` : e.actor,
              e.how,
              e.firstAt,
              e.lastAt,
              e.count,
              [e.lastIp, e.lastUserAgent].filter(Boolean).join(' ') || '-',
            ]),
            `nobody has received or revealed ${key} of ${project}/${env}`,
          );
      });
    });

  secret
    .command('delete <project> <env> <KEY>')
    .description('delete a key (a tombstone version; history is kept, an inherited value shows again)')
    .action(async (project: string, env: string, key: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const deleted = await ctx.secrets.remove({ project, environment: env, key }, cliActor());
        if (globals(command).json) printJson(versionJson(project, env, deleted));
        else say(`deleted ${key} in ${project}/${env} (version ${deleted.version})`);
      });
    });

  secret
    .command('rollback <project> <env> <KEY> <version>')
    .description("write that version's value as a new version")
    .option(...masterKeyOption)
    .action(
      async (
        project: string,
        env: string,
        key: string,
        versionText: string,
        options: { masterKeyFile?: string },
        command: Command,
      ) => {
        const version = parseVersion(versionText);
        await withContext((ctx) =>
          withMasterKey(options, async (masterKey) => {
            const written = await ctx.secrets.rollback(
              { project, environment: env, key, version },
              { masterKey },
              cliActor(),
            );
            if (globals(command).json) printJson(versionJson(project, env, written));
            else say(`${key} is at version ${written.version} (the value of version ${version})`);
          }),
        );
      },
    );

  program
    .command('import <project> <env> <file>')
    .description('write every key of a dotenv file, in one transaction')
    .option(...masterKeyOption)
    .option('--allow-warnings', 'import even when some lines would not be read as written (each is reported)')
    .action(
      async (
        project: string,
        env: string,
        file: string,
        options: { masterKeyFile?: string; allowWarnings?: boolean },
        command: Command,
      ) => {
        const content = readTextFile(file);
        // Every surprising line on stderr, whether the import then goes ahead (--allow-warnings) or not.
        const warnings = findSurprisingDotenvLines(content);
        for (const warning of warnings) say(`${file}: ${describeDotenvWarning(warning)}`);
        await withContext((ctx) =>
          withMasterKey(options, async (masterKey) => {
            const result = await withProgress('import', (onProgress) =>
              ctx.secrets.importDotenv(
                { project, environment: env, content, allowWarnings: options.allowWarnings === true },
                { masterKey },
                cliActor(),
                onProgress,
              ),
            ).catch((error: unknown) => {
              if (error instanceof SurprisingDotenv) {
                throw new CliError(
                  `nothing was imported: ${error.warnings.length} surprising line(s) in ${file} (listed above); fix them or pass --allow-warnings`,
                );
              }
              throw error;
            });
            if (globals(command).json)
              printJson({ project, environment: env, written: result.written, unchanged: result.unchanged, warnings });
            else
              say(
                `imported ${result.written.length} keys into ${project}/${env} (${result.unchanged.length} unchanged)`,
              );
          }),
        );
      },
    );

  program
    .command('diff <project>')
    .description('keys present in some environments but missing in others (resolved)')
    .action(async (project: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const result = await ctx.secrets.diff(project);
        if (globals(command).json) {
          printJson(result.missing.map((r) => ({ key: r.key, present_in: r.presentIn, missing_in: r.missingIn })));
          return;
        }
        if (result.missing.length === 0) {
          say(`every key of ${project} is present in all ${result.environments.length} environments`);
          return;
        }
        printTable(
          ['KEY', 'MISSING IN', 'PRESENT IN'],
          result.missing.map((r) => [r.key, r.missingIn.join(','), r.presentIn.join(',')]),
          '',
        );
      });
    });
}
