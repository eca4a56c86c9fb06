import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, BIN, CLI_FAST_KDF_ENV, readAllStored, ROOT, runCli, tempDir } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * Typed secrets (issue 16) through the real CLI against a real server: written with `--type` and
 * `--field`, validated (a 400 naming the field, nothing written), listed with a certificate's
 * subject and expiry, `expiring` for cron, pulled whole as JSON and expanded into variables
 * elsewhere, and `run --files` writing key material to private files that are gone afterwards.
 */

const FIXTURES = path.join(ROOT, 'test/fixtures/typed');
const fixture = (name: string) => path.join(FIXTURES, name);
const read = (name: string) => fs.readFileSync(fixture(name), 'utf8');
/** What `--field name=@file` stores: the file, one trailing newline dropped (CONTRACT §6). */
const stored = (name: string) => read(name).replace(/\n$/, '');
const PASSWORD = 'typed-canary-pa55word';

describe('typed secrets through the CLI', () => {
  let server: TestServer;
  let masterKey: string;
  let keyed: string;
  let classic: string;
  let writer: string;
  let passwordFile: string;

  const admin = (...args: string[]) =>
    runCli(args, { dataDir: server.dataDir, env: { SECRETSFLY_MASTER_KEY: masterKey } });
  const client = (token: string, args: string[]) =>
    runCli(args, {
      dataDir: '',
      env: {
        SECRETSFLY_URL: server.url,
        SECRETSFLY_TOKEN: token,
        SECRETSFLY_STATE_DIR: tempDir(),
        ...(token === classic && { SECRETSFLY_MASTER_KEY: masterKey }),
      },
    });

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    keyed = (
      await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read', keyed: access() }, actor)
    ).token;
    writer = (
      await server.ctx.tokens.create(
        { project: 'app', environment: 'prod', access: 'read_write', keyed: access() },
        actor,
      )
    ).token;
    classic = (await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor)).token;
    passwordFile = path.join(tempDir(), 'password');
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`);
  });
  afterAll(() => server?.close());

  it('should write each type with --type and --field, and read it back whole or by field', async () => {
    const db = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'DB',
      '--type',
      'credential',
      '--field',
      'username=app',
      '--field',
      `password=@${passwordFile}`,
    );
    expect(db.code, db.stderr).toBe(0);
    expect(db.stderr).toContain('DB is at version 1 in app/prod (credential)');
    const tls = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'TLS',
      '--type',
      'certificate',
      '--field',
      `certificate=@${fixture('tls.crt')}`,
      '--field',
      `private_key=@${fixture('tls.key')}`,
    );
    expect(tls.code, tls.stderr).toBe(0);
    const ssh = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'DEPLOY',
      '--type',
      'ssh_key',
      '--field',
      `private_key=@${fixture('id_ed25519_encrypted')}`,
      '--field',
      'passphrase=correct-horse',
      '--field',
      'username=deploy',
    );
    expect(ssh.code, ssh.stderr).toBe(0);
    const api = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'STRIPE',
      '--type',
      'api_key',
      '--field',
      'value=sk_test_123',
      '--field',
      'header=Authorization',
    );
    expect(api.code, api.stderr).toBe(0);

    const whole = await admin('secret', 'get', 'app', 'prod', 'DB');
    expect(JSON.parse(whole.stdout)).toEqual({ type: 'credential', username: 'app', password: PASSWORD });
    expect((await admin('secret', 'get', 'app', 'prod', 'DB', '--field', 'password')).stdout).toBe(`${PASSWORD}\n`);
    const noField = await admin('secret', 'get', 'app', 'prod', 'DB', '--field', 'token');
    expect([noField.code, noField.stderr]).toEqual([
      1,
      'secretsfly: DB (a credential) has no field "token": it has username, password\n',
    ]);

    const list = await admin('secret', 'list', 'app', 'prod');
    expect(list.stdout).toMatch(/DB\s+credential\s+1/);
    expect(list.stdout).toMatch(/TLS\s+certificate, api\.example\.test, expires 2125-01-01\s+1/);
    expect(list.stdout).toMatch(/DEPLOY\s+ssh_key/);
    expect(list.stdout).not.toContain(PASSWORD);
    const listJson = JSON.parse((await admin('--json', 'secret', 'list', 'app', 'prod')).stdout) as any[];
    expect(listJson.find((row) => row.key === 'TLS').certificate).toEqual({
      subject: 'CN=api.example.test',
      issuer: 'CN=api.example.test',
      sans: 'DNS:api.example.test',
      not_before: '2026-01-01T00:00:00.000Z',
      not_after: '2125-01-01T00:00:00.000Z',
    });
  });

  it('should refuse what does not validate with one line naming the field, and write nothing', async () => {
    const cases: [string[], string][] = [
      [['--type', 'credential', '--field', 'username=app'], 'BAD: the field "password" is required for a credential'],
      [
        [
          '--type',
          'certificate',
          '--field',
          `certificate=@${fixture('tls.crt')}`,
          '--field',
          `private_key=@${fixture('other.key')}`,
        ],
        'BAD: the field "private_key" does not match the certificate',
      ],
      [
        ['--type', 'certificate', '--field', 'certificate=not a pem'],
        'BAD: the field "certificate" is not a PEM certificate',
      ],
      [
        ['--type', 'ssh_key', '--field', `private_key=@${fixture('id_ed25519_encrypted')}`],
        'BAD: the field "private_key" is encrypted: give its passphrase',
      ],
      [
        [
          '--type',
          'ssh_key',
          '--field',
          `private_key=@${fixture('id_ed25519_encrypted')}`,
          '--field',
          'passphrase=wrong',
        ],
        'BAD: the field "passphrase" does not open the private key',
      ],
      [
        ['--type', 'credential', '--field', 'username=a', '--field', 'password=b', '--field', 'pin=1'],
        'BAD: the field "pin" is not a field of credential',
      ],
      [['--type', 'vault'], '--type takes generic, credential, ssh_key, api_key, certificate'],
    ];
    for (const [flags, message] of cases) {
      const result = await admin('secret', 'set', 'app', 'prod', 'BAD', ...flags);
      expect(result.code, message).not.toBe(0);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    // A mistyped --field is refused without echoing it: it may be the value itself.
    const echo = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'BAD',
      '--type',
      'credential',
      '--field',
      '=hunter2-canary',
    );
    expect(echo.code).toBe(2);
    expect(echo.stderr).toContain('--field takes name=value or name=@file');
    expect(echo.stderr).not.toContain('canary');
    expect((await admin('secret', 'get', 'app', 'prod', 'BAD')).code).toBe(1);
    // Over the API too, with the same words and a 400.
    const put = await call(server, '/api/v1/secrets/BAD', {
      method: 'PUT',
      token: writer,
      body: { type: 'certificate', fields: { certificate: read('tls.crt'), private_key: read('other.key') } },
    });
    expect([put.status, put.json.error.message]).toEqual([
      400,
      'BAD: the field "private_key" does not match the certificate',
    ]);
  });

  it('should pull JSON whole and every other format as variables, with a keyed and a classic token', async () => {
    for (const token of [keyed, classic]) {
      const json = await client(token, ['pull']);
      expect([json.code, json.stderr]).toEqual([0, '']);
      const values = JSON.parse(json.stdout);
      expect(values.DB).toEqual({ type: 'credential', username: 'app', password: PASSWORD });
      expect(values.TLS.certificate).toBe(stored('tls.crt'));

      const dotenv = parse((await client(token, ['pull', '--format', 'dotenv'])).stdout);
      expect(dotenv).toMatchObject({
        DB_USERNAME: 'app',
        DB_PASSWORD: PASSWORD,
        TLS_CERT: stored('tls.crt'),
        TLS_KEY: stored('tls.key'),
        DEPLOY_PRIVATE_KEY: stored('id_ed25519_encrypted'),
        DEPLOY_PASSPHRASE: 'correct-horse',
        DEPLOY_USERNAME: 'deploy',
        STRIPE: 'sk_test_123',
        STRIPE_HEADER: 'Authorization',
      });
      expect(dotenv.DB).toBeUndefined();
    }
    // The server's own dotenv expands the same way.
    const served = await call(server, '/api/v1/secrets?format=dotenv', { token: classic, masterKey });
    expect(parse(served.text)).toMatchObject({ DB_USERNAME: 'app', DB_PASSWORD: PASSWORD });
    const one = await call(server, '/api/v1/secrets/DB', { token: classic, masterKey });
    expect(one.json).toMatchObject({
      type: 'credential',
      value: { type: 'credential', username: 'app', password: PASSWORD },
    });
  });

  it('should refuse a variable two keys would set, naming both, never overwriting one', async () => {
    expect((await admin('secret', 'set', 'app', 'prod', 'DB_PASSWORD', 'plain')).code).toBe(0);
    for (const token of [keyed, classic]) {
      const run = await client(token, ['run', '--', process.execPath, '-e', '0']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('DB_PASSWORD would be set by both DB');
    }
    const served = await call(server, '/api/v1/secrets?format=dotenv', { token: classic, masterKey });
    expect([served.status, served.json.error.code]).toEqual([422, 'not_representable']);
    // JSON has no clash: both keys are there as they are.
    const json = JSON.parse((await client(keyed, ['pull'])).stdout);
    expect(json.DB_PASSWORD).toBe('plain');
    expect((await admin('secret', 'delete', 'app', 'prod', 'DB_PASSWORD')).code).toBe(0);
  });

  it('should list certificates about to expire for cron, exiting 1 when there is one', async () => {
    const quiet = await admin('expiring');
    expect([quiet.code, quiet.stdout, quiet.stderr]).toEqual([0, '', 'no certificate expires within 30d\n']);
    const old = await admin(
      'secret',
      'set',
      'app',
      'prod',
      'OLD_TLS',
      '--type',
      'certificate',
      '--field',
      `certificate=@${fixture('expired.crt')}`,
    );
    expect(old.code, old.stderr).toBe(0);
    const due = await admin('expiring', '--within', '30d');
    expect(due.code).toBe(1);
    expect(due.stdout).toMatch(/app\s+prod\s+OLD_TLS\s+CN=old\.example\.test\s+2020-02-01T00:00:00\.000Z\s+expired/);
    expect(due.stdout).not.toContain('api.example.test');
    const far = JSON.parse((await admin('--json', 'expiring', '--within', '3650d')).stdout) as any[];
    expect(far).toEqual([
      expect.objectContaining({ project: 'app', environment: 'prod', key: 'OLD_TLS', days_left: expect.any(Number) }),
    ]);
    expect(far[0].days_left).toBeLessThan(0);
  });

  it('should write key material to private files for run --files, gone when the child exits', async () => {
    const show =
      'const f = (v) => ({ path: process.env[v], mode: (require("fs").statSync(process.env[v]).mode & 0o777).toString(8), body: require("fs").readFileSync(process.env[v], "utf8") });' +
      'process.stdout.write(JSON.stringify({ cert: f("TLS_CERT_FILE"), key: f("TLS_KEY_FILE"), ssh: f("DEPLOY_PRIVATE_KEY_FILE"), inline: process.env.TLS_KEY ?? null, dir: (require("fs").statSync(require("path").dirname(process.env.TLS_KEY_FILE)).mode & 0o777).toString(8) }))';
    const run = await client(keyed, ['run', '--files', '--', process.execPath, '-e', show]);
    expect([run.code, run.stderr]).toEqual([0, '']);
    const seen = JSON.parse(run.stdout);
    expect(seen.key).toMatchObject({ mode: '600', body: read('tls.key') });
    expect(seen.cert).toMatchObject({ mode: '600', body: read('tls.crt') });
    expect(seen.ssh.body).toBe(read('id_ed25519_encrypted'));
    expect(seen.dir).toBe('700');
    expect(seen.inline).toBeNull();
    expect(fs.existsSync(seen.key.path)).toBe(false);
    expect(fs.existsSync(path.dirname(seen.key.path))).toBe(false);

    // SIGTERM to `run` while the child runs: forwarded, and the files go with the child.
    const child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--files',
        '--',
        process.execPath,
        '-e',
        'console.log(process.env.TLS_KEY_FILE); process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ...CLI_FAST_KDF_ENV,
          SECRETSFLY_URL: server.url,
          SECRETSFLY_TOKEN: keyed,
          SECRETSFLY_STATE_DIR: tempDir(),
          XDG_CONFIG_HOME: tempDir(),
        },
      },
    );
    const file = await new Promise<string>((resolve) =>
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
    );
    expect(fs.existsSync(file)).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(fs.existsSync(file)).toBe(false);
  });

  it('should keep field values encrypted: the database holds the certificate metadata, never a password or key', async () => {
    const stored = Buffer.concat((await readAllStored(server.dataDir)).map((f) => f.content));
    expect(stored.includes(Buffer.from(PASSWORD))).toBe(false);
    expect(stored.includes(Buffer.from('correct-horse'))).toBe(false);
    for (const pem of ['tls.key', 'id_ed25519_encrypted']) {
      const body = read(pem).split('\n')[1]!;
      expect(stored.includes(Buffer.from(body)), pem).toBe(false);
    }
    // The public metadata is what `secret list` and `expiring` read without a key.
    expect(stored.includes(Buffer.from('CN=api.example.test'))).toBe(true);
  });
});
