import type { Command } from 'commander';
import { loadShareCrypto as shareCrypto } from '../../src/shares/share-crypto.js';
import { globals } from '../context.js';
import {
  CliError,
  dropOneTrailingNewline,
  printJson,
  printTable,
  readTextFile,
  say,
  UsageError,
  valueFrom,
} from '../io.js';
import { clientServer } from '../client-config.js';
import { callServer } from '../server-client.js';
import { configDir, readPrivateJson, writePrivateJson } from '../user-config.js';

const requestJson = async (url: string, init?: RequestInit) =>
  JSON.parse(await callServer(url, init)) as Record<string, unknown>;

const passphraseFrom = (file: string | undefined) =>
  file === undefined ? undefined : dropOneTrailingNewline(readTextFile(file, 'the passphrase file'));

const SUBCOMMANDS = ['create', 'open', 'status', 'burn', 'list'];
const SHARE_ID = /^[A-Za-z0-9_-]{22}$/;
const SHARES_FILE = 'shares.json';
/** A share's entry is forgotten this long after it expired: its state can no longer change. */
const KEEP_AFTER_EXPIRY_MS = 30 * 24 * 3600 * 1000;

/** What `share create` keeps per share so that its creator can check or burn it: never the secret, never the link's key. */
interface KeptShare {
  id: string;
  server: string;
  creator_key: string;
  created_at: string;
  expires_at: string;
}

function keptShares(): KeptShare[] {
  const data = readPrivateJson<{ shares?: unknown }>(SHARES_FILE);
  if (data === undefined) return [];
  if (!Array.isArray(data.shares))
    throw new CliError(`${configDir()}/${SHARES_FILE} is not a secretsfly shares file: fix or remove it`);
  return data.shares as KeptShare[];
}

function keepShare(share: KeptShare): void {
  const now = Date.now();
  const shares = keptShares().filter((s) => Date.parse(s.expires_at) + KEEP_AFTER_EXPIRY_MS > now && s.id !== share.id);
  writePrivateJson(SHARES_FILE, { shares: [...shares, share] });
}

/** The kept share a link or an id names; only its creator (this user's config) holds its creator key. */
function keptShare(target: string): KeptShare {
  let id: string | undefined;
  let origin: string | undefined;
  if (SHARE_ID.test(target)) id = target;
  else {
    let url: URL | undefined;
    try {
      url = new URL(target);
    } catch {
      // neither an id nor a link
    }
    id = url && /\/s\/([A-Za-z0-9_-]{22})$/.exec(url.pathname)?.[1];
    origin = url?.origin;
    if (!id) throw new UsageError(`"${target.slice(0, 60)}" is neither a share link (…/s/<id>) nor a share id`);
  }
  const share = keptShares().find((s) => s.id === id && (origin === undefined || new URL(s.server).origin === origin));
  if (!share)
    throw new CliError(
      `share ${id} is not one of yours: no creator key for it in ${configDir()}/${SHARES_FILE} (see secretsfly share list)`,
    );
  return share;
}

interface ShareStatus {
  id: string;
  state: string;
  expires_at: string;
  ended_at: string | null;
}

const statusOf = async (share: KeptShare) =>
  (await requestJson(`${share.server}/api/v1/shares/${share.id}/status`, {
    headers: { 'x-creator-key': share.creator_key },
  })) as unknown as ShareStatus;

const describe = (status: ShareStatus) =>
  status.state === 'pending'
    ? `pending: not opened yet, works until ${status.expires_at}`
    : `${status.state}${status.ended_at ? ` at ${status.ended_at}` : ''}`;

export function registerShareCommands(program: Command): void {
  const share = program
    .command('share')
    .description('share one secret once, by a link whose key never reaches the server');

  share
    .command('create [value]', { isDefault: true })
    .description(
      'encrypt locally and print a one-time link (the secret from stdin, --from-file, or an argument after the word create)',
    )
    .option('--ttl <duration>', 'how long the link works: 15m, 1h, 4h, 24h, 3d …', '1h')
    .option('--passphrase-file <path>', 'also require this passphrase to open it')
    .option('--from-file <path>', 'read the secret from this file')
    .option('--notify <email>', 'e-mail the recipient that a secret is waiting (the link is yours to send)')
    // Extra words are refused below, with the subcommands named.
    .allowExcessArguments()
    .action(
      async (
        argument: string | undefined,
        options: { ttl: string; passphraseFile?: string; fromFile?: string; notify?: string },
        command: Command,
      ) => {
        // `share <word>` reaches here too (create is the default): only `share create <value>` takes
        // an argument as the secret, so `share stauts` is a mistyped command, never a shared secret.
        const explicit = command.parent?.args[0] === 'create';
        const [first, second] = command.args;
        if (!explicit && first !== undefined)
          throw new UsageError(
            // Not echoed: it may be the secret itself, typed where a command goes.
            `unknown share command: use ${SUBCOMMANDS.join(', ')}; a secret comes from stdin, --from-file, or \`share create <value>\``,
          );
        if (second !== undefined)
          throw new UsageError('share create takes one value: quote it, or give it on stdin or with --from-file');
        // The server and, when there is one, its token: SECRETSFLY_*, else this folder's login.
        const { url: server, token: credential } = clientServer();
        keptShares(); // a config we could not keep the creator key in refuses before anything is shared
        const value = await valueFrom(argument, options.fromFile);
        if (value === '') throw new UsageError('nothing to share: the secret is empty');
        const passphrase = passphraseFrom(options.passphraseFile);
        const { ciphertext, key } = await (await shareCrypto()).encryptShare(value, passphrase);
        const token = await shareCredential(credential);
        const body = await requestJson(`${server}/api/v1/shares`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
          body: JSON.stringify({
            ciphertext,
            ttl: options.ttl,
            passphrase_protected: passphrase !== undefined,
            ...(options.notify && { notify_email: options.notify }),
          }),
        });
        if (body.notified === false) say(`the e-mail notice to ${options.notify} could not be sent`);
        const id = String(body.id);
        const link = `${server}/s/${id}#${key}`;
        let kept = true;
        try {
          keepShare({
            id,
            server,
            creator_key: String(body.creator_key),
            created_at: new Date().toISOString(),
            expires_at: String(body.expires_at),
          });
        } catch (error) {
          kept = false;
          say(`warning: ${(error as Error).message}; keep its creator key yourself: ${String(body.creator_key)}`);
        }
        if (globals(command).json) {
          printJson({
            link,
            id,
            expires_at: body.expires_at,
            creator_key: body.creator_key,
            passphrase_protected: passphrase !== undefined,
            notified: typeof body.notified === 'boolean' ? body.notified : null,
          });
          return;
        }
        say(`works once, until ${String(body.expires_at)}${passphrase ? ', with the passphrase' : ''}`);
        if (kept) say(`check or burn it: secretsfly share status ${id} / secretsfly share burn ${id}`);
        process.stdout.write(`${link}\n`);
      },
    );

  share
    .command('open <link>')
    .description('reveal a one-time link (this consumes it) and print the secret')
    .option('--passphrase-file <path>', 'the passphrase the sender gave you')
    .action(async (link: string, options: { passphraseFile?: string }, command: Command) => {
      let url: URL;
      try {
        url = new URL(link);
      } catch {
        throw new UsageError('that is not a link');
      }
      const id = /^\/s\/([A-Za-z0-9_-]{22})$/.exec(url.pathname)?.[1];
      const key = url.hash.slice(1);
      if (!id || !key) throw new UsageError('not a complete secretsfly share link (…/s/<id>#<key>)');
      const passphrase = passphraseFrom(options.passphraseFile);
      // Look before consuming: a share that needs a passphrase we do not have must not be burned.
      const peek = await requestJson(`${url.origin}/api/v1/shares/${id}`);
      if (peek.state !== 'pending')
        throw new CliError(
          peek.state === 'viewed' ? 'this secret has already been viewed' : `this secret is ${String(peek.state)}`,
        );
      if (peek.passphrase_protected && passphrase === undefined)
        throw new CliError('this secret needs its passphrase: pass --passphrase-file');
      const body = await requestJson(`${url.origin}/api/v1/shares/${id}/reveal`, { method: 'POST' });
      let value: string;
      try {
        value = await (await shareCrypto()).decryptShare(String(body.ciphertext), key, passphrase);
      } catch (error) {
        throw new CliError(`${(error as Error).message}; the secret was consumed and cannot be revealed again`);
      }
      if (globals(command).json) printJson({ value });
      else process.stdout.write(`${value}\n`);
    });

  share
    .command('status <link-or-id>')
    .description('whether a share of yours is pending, viewed, expired or burned (consumes nothing)')
    .action(async (target: string, _options, command: Command) => {
      const status = await statusOf(keptShare(target));
      if (globals(command).json) printJson(status);
      else process.stdout.write(`${describe(status)}\n`);
    });

  share
    .command('burn <link-or-id>')
    .description('destroy a share of yours now, so that its link never works')
    .action(async (target: string, _options, command: Command) => {
      const kept = keptShare(target);
      await callServer(`${kept.server}/api/v1/shares/${kept.id}`, {
        method: 'DELETE',
        headers: { 'x-creator-key': kept.creator_key },
      });
      // Burning a share that already ended changes nothing: say what it is.
      const status = await statusOf(kept);
      if (globals(command).json) printJson(status);
      else if (status.state === 'burned') process.stdout.write(`burned: the link no longer works\n`);
      else process.stdout.write(`nothing to burn: it is ${describe(status)}\n`);
    });

  share
    .command('list')
    .description('the shares you created (kept in your config), with their state from the server')
    .action(async (_options, command: Command) => {
      const shares = keptShares().sort((a, b) => a.created_at.localeCompare(b.created_at));
      const rows = await Promise.all(
        shares.map(async (s) => {
          const base = {
            id: s.id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            origin: new URL(s.server).origin,
          };
          try {
            return { ...base, state: (await statusOf(s)).state, error: null };
          } catch (error) {
            return { ...base, state: 'unknown', error: (error as Error).message };
          }
        }),
      );
      if (globals(command).json) {
        printJson(rows);
        return;
      }
      printTable(
        ['ID', 'CREATED', 'EXPIRES', 'STATE', 'ORIGIN'],
        rows.map((r) => [r.id, r.created_at, r.expires_at, r.state, r.origin]),
        'no shares yet (secretsfly share creates one)',
      );
      for (const r of rows) if (r.error) say(`${r.id}: ${r.error}`);
    });
}

/**
 * What `share create` sends for SECRETSFLY_TOKEN: a keyed token's proof (its authentication key
 * alone), never the whole token, whose wrapping key would reach the server.
 */
async function shareCredential(token: string | undefined): Promise<string | undefined> {
  if (!token?.startsWith('sfst_k1_')) return token;
  const { parseKeyedToken, tokenProof } = await import('../../src/crypto/scoped-keys.js');
  const keys = parseKeyedToken(token);
  if (!keys) throw new CliError('SECRETSFLY_TOKEN is not a valid keyed token (sfst_k1_…): copy it again');
  const proof = tokenProof(keys.id, keys.authKey);
  keys.authKey.fill(0);
  keys.wrappingKey.fill(0);
  return proof;
}
