import path from 'node:path';
import type { Command } from 'commander';
import { checkServerUrl, currentDir, loginFor, readLogins, writeLogins } from '../client-config.js';
import { globals } from '../context.js';
import { CliError, printJson, promptHidden, readStdin, say, UsageError } from '../io.js';
import { callServer } from '../server-client.js';

/** What a token looks like: the CLI refuses anything else before saving or sending it. */
const TOKEN = /^sfst_[A-Za-z0-9_-]{20,200}$/;

/**
 * `login` and `logout`: a server and a token for the current directory tree, kept in the user's
 * config (client-config.ts), so that `run` and `pull` there need no variables. The token is read
 * from stdin or a hidden prompt, never from an argument (it would stay in the shell's history).
 */
export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description("save a server and a token for this folder and below: 'secretsfly run' there needs no variables")
    .option('--url <url>', 'the server, e.g. https://secrets.example.com (else SECRETSFLY_URL)')
    .option('--scope <dir>', 'the folder the login covers (default: the current one)')
    .action(async (options: { url?: string; scope?: string }, command: Command) => {
      const rawUrl = options.url ?? process.env.SECRETSFLY_URL;
      if (!rawUrl) throw new UsageError('give the server: secretsfly login --url https://secrets.example.com');
      const url = checkServerUrl(rawUrl, options.url ? '--url' : 'SECRETSFLY_URL');
      const scope = options.scope ? path.resolve(options.scope) : currentDir();
      const token = await readToken();
      // The server must answer as a secretsfly server before a token is saved for it.
      const status = await callServer(`${url}/api/v1/status`).catch((error: unknown) => {
        throw new CliError(`${(error as Error).message}: check the address, then run 'secretsfly login' again`);
      });
      if (!/"status":"ok"/.test(status)) throw new CliError(`${url} did not answer as a secretsfly server`);
      const logins = readLogins();
      logins[scope] = { url, token, savedAt: new Date().toISOString() };
      writeLogins(logins);
      const kind = token.startsWith('sfst_k1_') ? 'keyed' : 'classic';
      if (globals(command).json) printJson({ scope, url, kind });
      else {
        const what = kind === 'keyed' ? 'keyed token' : 'classic token (its apps also need the master key)';
        say(`logged in: ${scope} and the folders below it use ${url} with a ${what}`);
      }
    });

  program
    .command('logout')
    .description('forget the login that covers this folder')
    .option('--scope <dir>', 'the logged-in folder to forget (default: the one covering the current folder)')
    .action(async (options: { scope?: string }, command: Command) => {
      const logins = readLogins();
      const found = options.scope
        ? logins[path.resolve(options.scope)] && { dir: path.resolve(options.scope) }
        : loginFor(currentDir(), logins);
      if (!found) throw new CliError('no login covers this folder: nothing to forget');
      delete logins[found.dir];
      writeLogins(logins);
      if (globals(command).json) printJson({ forgotten: found.dir });
      else say(`logged out: ${found.dir} no longer has a saved server or token`);
    });
}

async function readToken(): Promise<string> {
  const raw = process.stdin.isTTY ? await promptHidden('Service token: ') : await readStdin();
  const token = raw.trim();
  if (!token)
    throw new UsageError('no token: pipe it in (secretsfly login --url … < token.txt) or type it at the prompt');
  if (!TOKEN.test(token)) {
    throw new CliError('that is not a secretsfly service token (sfst_…): copy it again from `secretsfly token create`');
  }
  return token;
}
