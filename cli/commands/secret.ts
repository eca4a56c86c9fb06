import type { Command } from 'commander';
import { globals, withContext } from '../context.js';
import { CliError, cliActor, printJson, printTable, say, UsageError, valueFrom, withMasterKey } from '../io.js';
import { SECRET_TYPES, typedJson } from '../../src/secrets/typed-secrets.js';
import { registerAccessLogCommand } from './access-log.js';
import { registerImportCommands } from './import.js';
import {
  collectField,
  describeCertificate,
  masterKeyOption,
  registerExpiringCommand,
  typedFromOptions,
} from './secret-types.js';

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

export function registerSecretCommands(program: Command): void {
  registerExpiringCommand(program);

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

  registerAccessLogCommand(secret);

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

  registerImportCommands(program);
}
