import type { Command } from 'commander';
import { loadShareCrypto as shareCrypto } from '../../src/shares/share-crypto.js';
import { globals } from '../context.js';
import { CliError, dropOneTrailingNewline, printJson, readTextFile, say, UsageError, valueFrom } from '../io.js';
import { callServer, serverUrl } from '../server-client.js';

const requestJson = async (url: string, init?: RequestInit) =>
  JSON.parse(await callServer(url, init)) as Record<string, unknown>;

const passphraseFrom = (file: string | undefined) =>
  file === undefined ? undefined : dropOneTrailingNewline(readTextFile(file, 'the passphrase file'));

export function registerShareCommands(program: Command): void {
  const share = program
    .command('share')
    .description('share one secret once, by a link whose key never reaches the server');

  share
    .command('create [value]', { isDefault: true })
    .description('encrypt locally and print a one-time link (value from the argument, --from-file, or stdin)')
    .option('--ttl <duration>', 'how long the link works: 15m, 1h, 4h, 24h, 3d …', '1h')
    .option('--passphrase-file <path>', 'also require this passphrase to open it')
    .option('--from-file <path>', 'read the secret from this file')
    .option('--notify <email>', 'e-mail the recipient that a secret is waiting (the link is yours to send)')
    .action(
      async (
        argument: string | undefined,
        options: { ttl: string; passphraseFile?: string; fromFile?: string; notify?: string },
        command: Command,
      ) => {
        const server = serverUrl();
        const value = await valueFrom(argument, options.fromFile);
        if (value === '') throw new UsageError('nothing to share: the secret is empty');
        const passphrase = passphraseFrom(options.passphraseFile);
        const { ciphertext, key } = await (await shareCrypto()).encryptShare(value, passphrase);
        const token = await shareCredential(process.env.SECRETSFLY_TOKEN);
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
        const link = `${server}/s/${String(body.id)}#${key}`;
        if (globals(command).json) {
          printJson({
            link,
            id: body.id,
            expires_at: body.expires_at,
            creator_key: body.creator_key,
            passphrase_protected: passphrase !== undefined,
            notified: typeof body.notified === 'boolean' ? body.notified : null,
          });
          return;
        }
        say(`works once, until ${String(body.expires_at)}${passphrase ? ', with the passphrase' : ''}`);
        say(`creator key (to check or burn it): ${String(body.creator_key)}`);
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
