import type { Command } from 'commander';
import { globals, withContext, withNewOrExistingContext } from '../context.js';
import { cliActor, dropOneTrailingNewline, printJson, printTable, readTextFile, say, withMasterKey } from '../io.js';

export function registerProjectCommands(program: Command): void {
  const project = program.command('project').description('projects: roots own a master key, children inherit');
  project
    .command('create <name>')
    .description('create a project; a root project prints its new master key once')
    .option('--parent <name>', 'make it a child of this project')
    .option('--master-key-file <path>', 'use the master key in this file instead of generating one (root only)')
    .action(async (name: string, options: { parent?: string; masterKeyFile?: string }, command: Command) => {
      const chosen =
        options.masterKeyFile === undefined
          ? undefined
          : dropOneTrailingNewline(readTextFile(options.masterKeyFile, 'the master key file'));
      await withNewOrExistingContext(async (ctx) => {
        const created = await ctx.projects.create({ name, parent: options.parent, masterKey: chosen }, cliActor());
        if (globals(command).json) {
          printJson({
            name: created.project.name,
            parent: created.project.parent,
            master_key: created.masterKey ?? null,
          });
          return;
        }
        if (created.project.isRoot) {
          say(`created root project "${name}"`);
          if (created.masterKey) {
            say('Its master key follows. It is shown once and stored nowhere: keep it in a password manager now.');
            process.stdout.write(`${created.masterKey}\n`);
          }
        } else
          say(
            `created project "${name}" under "${created.project.parent}" (uses the master key of "${created.project.root}")`,
          );
      });
    });

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
    .option(
      '--reencrypt',
      "also replace the data key, re-encrypt every version of every secret and revoke the tree's keyed tokens, all or nothing",
    )
    .action(
      async (
        name: string,
        options: { masterKeyFile?: string; newMasterKeyFile?: string; reencrypt?: boolean },
        command: Command,
      ) => {
        const newMasterKey =
          options.newMasterKeyFile === undefined
            ? undefined
            : dropOneTrailingNewline(readTextFile(options.newMasterKeyFile, 'the new master key file'));
        await withContext((ctx) =>
          withMasterKey(options, async (oldMasterKey) => {
            const rotated = await ctx.rotation.rotate(
              { project: name, oldMasterKey, newMasterKey, reencrypt: options.reencrypt === true },
              cliActor(),
            );
            if (globals(command).json) {
              printJson({
                project: name,
                key_version: rotated.keyVersion,
                reencrypted: rotated.reencrypted,
                master_key: rotated.masterKey ?? null,
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
            if (rotated.masterKey) {
              say(
                'The new master key follows. It is shown once and stored nowhere: keep it in a password manager now.',
              );
              process.stdout.write(`${rotated.masterKey}\n`);
            }
          }),
        );
      },
    );
}
