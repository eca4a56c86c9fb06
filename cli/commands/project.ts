import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError } from '../../src/errors.js';
import { globals, withContext, withNewOrExistingContext } from '../context.js';
import {
  CliError,
  cliActor,
  dropOneTrailingNewline,
  printJson,
  printTable,
  readTextFile,
  say,
  UsageError,
  withMasterKey,
} from '../io.js';
import { syncDir } from '../user-config.js';
import { withProgress } from '../progress.js';

/**
 * `--master-key-out <file>`: created here, exclusively and 0600, before anything changes, so a file
 * that exists refuses the command; `run` fills it with the key, or removes it when the command fails.
 */
async function withKeyOut<T>(
  file: string | undefined,
  run: (deliver: (key: string | undefined) => string | undefined) => Promise<T>,
): Promise<T> {
  if (file === undefined) return run(() => undefined);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'EEXIST'
        ? `${file} already exists: nothing was changed (--master-key-out never overwrites a file)`
        : `cannot create ${file} (${code ?? 'error'}): nothing was changed`,
    );
  }
  const created = fs.fstatSync(fd);
  let written = false;
  const deliver = (key: string | undefined) => {
    if (key === undefined) return undefined;
    try {
      fs.writeSync(fd, `${key}\n`);
      fs.fsyncSync(fd);
      syncDir(path.dirname(path.resolve(file)));
      written = true;
      return file;
    } catch (error) {
      // The change is made: the key must not be lost, so it goes to stdout after all.
      say(`warning: cannot write the master key to ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  try {
    return await run(deliver);
  } finally {
    fs.closeSync(fd);
    if (!written) {
      // Only the file this command created: not one that has replaced it since.
      const now = fs.statSync(file, { throwIfNoEntry: false });
      if (now && now.ino === created.ino && now.dev === created.dev) fs.rmSync(file, { force: true });
    }
  }
}

const keyOutOption = [
  '--master-key-out <file>',
  'write the new master key to this new file (0600) instead of stdout',
] as const;

export function registerProjectCommands(program: Command): void {
  const project = program.command('project').description('projects: roots own a master key, children inherit');
  project
    .command('create <name>')
    .description('create a project; a root project prints its new master key once')
    .option('--parent <name>', 'make it a child of this project')
    .option('--master-key-file <path>', 'use the master key in this file instead of generating one (root only)')
    .option(...keyOutOption)
    .action(
      async (
        name: string,
        options: { parent?: string; masterKeyFile?: string; masterKeyOut?: string },
        command: Command,
      ) => {
        if (options.masterKeyOut !== undefined && options.parent !== undefined)
          throw new UsageError('--master-key-out is for a root project: a child uses the master key of its root');
        if (options.masterKeyOut !== undefined && options.masterKeyFile !== undefined)
          throw new UsageError('--master-key-out writes a generated key: not with --master-key-file');
        const chosen =
          options.masterKeyFile === undefined
            ? undefined
            : dropOneTrailingNewline(readTextFile(options.masterKeyFile, 'the master key file'));
        await withKeyOut(options.masterKeyOut, (deliver) =>
          withNewOrExistingContext(async (ctx) => {
            let created;
            try {
              created = await ctx.projects.create({ name, parent: options.parent, masterKey: chosen }, cliActor());
            } catch (error) {
              if (error instanceof AppError && error.code === 'already_exists')
                throw new CliError(
                  `project "${name}" already exists: nothing was created, its master key is unchanged`,
                );
              throw error;
            }
            const keyFile = deliver(created.masterKey);
            if (globals(command).json) {
              printJson({
                name: created.project.name,
                parent: created.project.parent,
                master_key: keyFile === undefined ? (created.masterKey ?? null) : null,
                ...(keyFile !== undefined && { master_key_file: keyFile }),
              });
              return;
            }
            if (created.project.isRoot) {
              say(`created root project "${name}"`);
              if (keyFile !== undefined) process.stdout.write(`its master key is in ${keyFile} (mode 0600)\n`);
              else if (created.masterKey) {
                say('Its master key follows. It is shown once and stored nowhere: keep it in a password manager now.');
                process.stdout.write(`${created.masterKey}\n`);
              }
            } else
              say(
                `created project "${name}" under "${created.project.parent}" (uses the master key of "${created.project.root}")`,
              );
          }),
        );
      },
    );

  project
    .command('list')
    .description('list projects with their parent and sealed state')
    .action(async (_options, command: Command) => {
      await withContext(async (ctx) => {
        const projects = await ctx.projects.list();
        const state = (p: (typeof projects)[number]) =>
          !p.isRoot
            ? `(root: ${p.root})`
            : p.unsealedUntil
              ? `unsealed until ${p.unsealedUntil.toISOString()}`
              : 'sealed';
        if (globals(command).json) {
          printJson(
            projects.map((p) => ({
              name: p.name,
              parent: p.parent,
              root: p.root,
              sealed: p.unsealedUntil === null,
              created_at: p.createdAt,
            })),
          );
        } else
          printTable(
            ['NAME', 'PARENT', 'STATE'],
            projects.map((p) => [p.name, p.parent, state(p)]),
            'no projects yet',
          );
      });
    });

  program
    .command('rotate <root-project>')
    .description(
      'replace the master key of a root project (old key as usual, new one from --new-master-key-file or generated)',
    )
    .option('--master-key-file <path>', 'file holding the current master key')
    .option('--new-master-key-file <path>', 'file holding the new master key (else one is generated and printed once)')
    .option(...keyOutOption)
    .option(
      '--reencrypt',
      "also replace the data key, re-encrypt every version of every secret and revoke the tree's keyed tokens, all or nothing",
    )
    .action(
      async (
        name: string,
        options: { masterKeyFile?: string; newMasterKeyFile?: string; masterKeyOut?: string; reencrypt?: boolean },
        command: Command,
      ) => {
        if (options.masterKeyOut !== undefined && options.newMasterKeyFile !== undefined)
          throw new UsageError('--master-key-out writes a generated key: not with --new-master-key-file');
        const newMasterKey =
          options.newMasterKeyFile === undefined
            ? undefined
            : dropOneTrailingNewline(readTextFile(options.newMasterKeyFile, 'the new master key file'));
        await withKeyOut(options.masterKeyOut, (deliver) =>
          withContext((ctx) =>
            withMasterKey(options, async (oldMasterKey) => {
              // A bar on a terminal while every version is re-encrypted; nothing extra when piped.
              const rotated = await withProgress('re-encrypt', (onProgress) =>
                ctx.rotation.rotate(
                  { project: name, oldMasterKey, newMasterKey, reencrypt: options.reencrypt === true },
                  cliActor(),
                  onProgress,
                ),
              );
              const keyFile = deliver(rotated.masterKey);
              if (globals(command).json) {
                printJson({
                  project: name,
                  key_version: rotated.keyVersion,
                  reencrypted: rotated.reencrypted,
                  master_key: keyFile === undefined ? (rotated.masterKey ?? null) : null,
                  ...(keyFile !== undefined && { master_key_file: keyFile }),
                  scrubbed: rotated.scrubbed,
                  revoked_tokens: rotated.revokedTokens,
                });
                return;
              }
              say(
                options.reencrypt
                  ? `rotated the master key of "${name}" and re-encrypted ${rotated.reencrypted} versions under a new data key`
                  : `rotated the master key of "${name}"; the old one no longer works (keyed tokens keep working)`,
              );
              if (rotated.revokedTokens.length > 0) {
                say(
                  `revoked ${rotated.revokedTokens.length} keyed token(s) of the tree, whose keys the new data key replaced: ${rotated.revokedTokens.join(', ')}. Create new ones for their apps (secretsfly token create).`,
                );
              }
              if (!rotated.scrubbed) {
                say(
                  'warning: another process kept the database busy, so the replaced key material may still be in its write-ahead log (secretsfly.db-wal): stop the server, then run `secretsfly migrate` to clear it, before anyone copies DATA_DIR',
                );
              }
              if (keyFile !== undefined) process.stdout.write(`the new master key is in ${keyFile} (mode 0600)\n`);
              else if (rotated.masterKey) {
                say(
                  'The new master key follows. It is shown once and stored nowhere: keep it in a password manager now.',
                );
                process.stdout.write(`${rotated.masterKey}\n`);
              }
            }),
          ),
        );
      },
    );
}
