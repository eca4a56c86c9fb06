import type { Command } from 'commander';
import { parseDuration } from '../../src/tokens/token-duration.js';
import type { TokenView } from '../../src/tokens/token.service.js';
import { globals, withContext } from '../context.js';
import { cliActor, CliError, printJson, printTable, readMasterKey, say } from '../io.js';

/** The JSON of a token (CONTRACT §6): exactly these keys, never the token itself. */
const tokenJson = (view: TokenView) => ({
  id: view.id,
  name: view.name,
  project: view.project,
  environment: view.environment,
  access: view.access,
  created_at: view.created_at,
  last_used_at: view.last_used_at,
  expires_at: view.expires_at,
  revoked_at: view.revoked_at,
});

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('service tokens: one project + one environment, read or read_write');

  token
    .command('create <project> <env>')
    .description('create a service token and print it once: keyed (the default; needs the master key) or --classic')
    .option('--write', 'allow writes (read_write); the default is read only')
    .option('--classic', 'a classic token: its apps must also hold the master key (no master key needed here)')
    .option('--master-key-file <path>', "file holding the root's master key (keyed tokens)")
    .option('--expires-in <duration>', 'expire after 30m, 12h, 7d …')
    .option('--name <name>', 'a label to recognise it by')
    .action(
      async (
        project: string,
        env: string,
        options: { write?: boolean; expiresIn?: string; name?: string; classic?: boolean; masterKeyFile?: string },
        command: Command,
      ) => {
        const expiresInSeconds = options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn);
        await withContext(async (ctx) => {
          // Read only once the database is known to exist: a wrong directory fails before any prompt.
          const masterKey = options.classic ? undefined : await keyedTokenMasterKey(options);
          const created = await ctx.tokens
            .create(
              {
                project,
                environment: env,
                access: options.write ? 'read_write' : 'read',
                expiresInSeconds,
                name: options.name,
                keyed: masterKey && { masterKey },
              },
              cliActor(),
            )
            .finally(() => masterKey?.fill(0));
          if (globals(command).json) {
            printJson({ ...tokenJson(created.view), token: created.token });
            return;
          }
          say(
            `created ${created.view.kind} ${created.view.access} token ${created.view.id} for ${project}/${env}${created.view.expires_at ? `, expires ${created.view.expires_at}` : ''}`,
          );
          say(
            created.view.kind === 'keyed'
              ? 'It follows, shown once: only its hash is stored. Its apps need no master key.'
              : 'It follows, shown once: only its hash is stored. Its apps also need the master key.',
          );
          process.stdout.write(`${created.token}\n`);
        });
      },
    );

  token
    .command('list [project]')
    .description('list tokens (never the tokens themselves), oldest first')
    .action(async (project: string | undefined, _options, command: Command) => {
      await withContext(async (ctx) => {
        const rows: TokenView[] = await ctx.tokens.list(project);
        if (globals(command).json) printJson(rows.map(tokenJson));
        else {
          printTable(
            ['ID', 'NAME', 'PROJECT', 'ENV', 'KIND', 'ACCESS', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
            rows.map((r) => [
              r.id,
              r.name,
              r.project,
              r.environment,
              r.kind,
              r.access,
              r.created_at,
              r.last_used_at,
              r.expires_at,
              r.revoked_at,
            ]),
            'no tokens',
          );
        }
      });
    });

  token
    .command('revoke <id>')
    .description('revoke a token; it stops working at once')
    .action(async (id: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const revoked = await ctx.tokens.revoke(id, cliActor());
        if (globals(command).json) printJson(tokenJson(revoked));
        else say(`revoked token ${revoked.id} (${revoked.project}/${revoked.environment})`);
        if (!revoked.scrubbed) {
          say(
            "warning: another process kept the database busy, so the revoked token's wrapped key may still be in its write-ahead log (secretsfly.db-wal): stop the server, then run `secretsfly migrate` to clear it, before anyone copies DATA_DIR",
          );
        }
      });
    });
}

/** The master key a keyed token needs, with a hint at --classic when there is none to read. */
async function keyedTokenMasterKey(options: { masterKeyFile?: string }): Promise<Uint8Array> {
  try {
    return await readMasterKey(options);
  } catch (error) {
    if (error instanceof CliError && error.message.startsWith('no master key')) {
      throw new CliError(
        "a keyed token needs the root's master key: pass --master-key-file or set SECRETSFLY_MASTER_KEY (or create a --classic token)",
      );
    }
    throw error;
  }
}
