import fs from 'node:fs';
import path from 'node:path';
import { CliError } from './io.js';
import { configDir, readPrivateJson, writePrivateJson } from './user-config.js';

/**
 * What `secretsfly login` stored: a server URL and a token per directory tree, in the user's config
 * ($XDG_CONFIG_HOME/secretsfly/logins.json, else ~/.config/secretsfly/), never in the repository.
 * The way `doppler setup` scopes a token to a folder: a command run anywhere below a logged-in
 * folder uses that folder's login; the nearest one wins.
 *
 * Which server and token a client command uses, first found wins, per setting:
 *   1. SECRETSFLY_URL / SECRETSFLY_TOKEN in the environment,
 *   2. the login of the nearest logged-in folder at or above the current directory.
 * A saved token is only ever sent to the URL it was saved with: with SECRETSFLY_URL naming another
 * server, and the token coming from the login, the command refuses rather than send it there.
 */

export interface Login {
  readonly url: string;
  readonly token: string;
  readonly savedAt: string;
}

interface LoginsFile {
  readonly version: 1;
  readonly logins: Record<string, Login>;
}

const FILE = 'logins.json';

/** The file's logins; none when there is no file. Bad permissions or content: one line saying what to do. */
export function readLogins(): Record<string, Login> {
  const parsed = readPrivateJson<Partial<LoginsFile>>(FILE);
  if (parsed === undefined) return {};
  const file = path.join(configDir(), FILE);
  const logins = parsed?.logins;
  if (parsed?.version !== 1 || typeof logins !== 'object' || logins === null) {
    throw new CliError(`${file} is not a secretsfly login file: remove it and run 'secretsfly login' again`);
  }
  for (const [dir, login] of Object.entries(logins)) {
    if (typeof login?.url !== 'string' || typeof login.token !== 'string' || !path.isAbsolute(dir)) {
      throw new CliError(`${file} has a malformed login for ${dir}: run 'secretsfly logout' there, then login again`);
    }
  }
  return logins;
}

export function writeLogins(logins: Record<string, Login>): void {
  const content: LoginsFile = { version: 1, logins };
  writePrivateJson(FILE, content);
}

/** The directory a command runs in, as the logins name it (symbolic links resolved). */
export function currentDir(): string {
  try {
    return fs.realpathSync(process.cwd());
  } catch {
    return path.resolve(process.cwd());
  }
}

/** The nearest logged-in folder at or above `dir`, with its login. */
export function loginFor(dir: string, logins = readLogins()): { dir: string; login: Login } | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    const login = logins[at];
    if (login) return { dir: at, login };
    if (path.dirname(at) === at) return undefined;
  }
}

/** What the user typed, as the example of a right URL; never a token or key pasted in the wrong place. */
const example = (text: string): string => {
  const host = text.replace(/^[a-z]+:\/\//i, '');
  return host === '' || /sf(st|mk|zk)_/.test(host) || host.length > 200 ? 'secrets.example.com' : host;
};

/** A server URL as the user typed it: http(s) only, without a trailing slash, or one line saying what is wrong. */
export function checkServerUrl(raw: string, what: string): string {
  const text = raw.trim().replace(/\/+$/, '');
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) {
    throw new CliError(`${what} must be the server's address with its scheme, e.g. https://${example(text)}`);
  }
  if (url.username || url.password) throw new CliError(`${what} must not hold a user name or password`);
  return text;
}

/**
 * The server a client command talks to, and the token for it when there is one (the order is in
 * this file's header). A saved token is only ever paired with the server it was saved for.
 */
export function clientServer(): { url: string; token: string | undefined; saved: ReturnType<typeof loginFor> } {
  const rawUrl = process.env.SECRETSFLY_URL?.trim();
  const envUrl = rawUrl ? checkServerUrl(rawUrl, 'SECRETSFLY_URL') : undefined;
  const envToken = process.env.SECRETSFLY_TOKEN?.trim() || undefined;
  const saved = envToken && envUrl ? undefined : loginFor(currentDir());
  const url = envUrl ?? saved?.login.url;
  if (!url) {
    const missing = envToken ? 'no server' : 'no server and no token';
    throw new CliError(
      `${missing} for this folder: run 'secretsfly login' here (or set SECRETSFLY_URL and SECRETSFLY_TOKEN)`,
    );
  }
  const token = envToken ?? (saved?.login.url === url ? saved.login.token : undefined);
  return { url, token, saved };
}

/** clientServer for the commands that need a token (pull, run). */
export function clientCredentials(): { url: string; token: string } {
  const { url, token, saved } = clientServer();
  if (token) return { url, token };
  if (saved) {
    throw new CliError(
      `SECRETSFLY_URL (${url}) is not the server the login of ${saved.dir} is for (${saved.login.url}): its token goes to that server only. Unset SECRETSFLY_URL, or set SECRETSFLY_TOKEN too`,
    );
  }
  throw new CliError(`no token for this folder: run 'secretsfly login' here (or set SECRETSFLY_TOKEN)`);
}
