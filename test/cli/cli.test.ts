import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, snapshotDatabase, tempDir, succeeded } from '../helpers/test-context.js';

describe('secretsfly CLI', () => {
  let dataDir: string;
  let keyFile: string;
  const cli = (args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) =>
    runCli(args, {
      dataDir,
      env: { AVAILABLE_ENVIRONMENTS: 'prod,staging', ...options.env },
      ...(options.input !== undefined && { input: options.input }),
    });
  const withKey = (args: string[], options: { input?: string } = {}) =>
    cli([...args, '--master-key-file', keyFile], options);
  const ok = succeeded;

  beforeAll(async () => {
    dataDir = tempDir();
    keyFile = path.join(tempDir(), 'acme.key');
    const created = ok(await cli(['project', 'create', 'acme']));
    fs.writeFileSync(keyFile, created.stdout, { mode: 0o600 });
    ok(await cli(['project', 'create', 'acme-web', '--parent', 'acme']));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('should print the master key of a new root once, on stdout alone', async () => {
    const key = fs.readFileSync(keyFile, 'utf8');
    expect(key).toMatch(/^sfmk_[A-Za-z0-9_-]{43}\n$/);
  });

  it('should store the real KDF cost unless both test-only variables ask for the cheap one', async () => {
    // The other tests run with SECRETSFLY_TEST_KDF=fast and NODE_ENV=test (runCli): one alone must not do it.
    const createRoot = async (env: Record<string, string | undefined>) => {
      const dir = tempDir();
      const created = ok(await runCli(['project', 'create', 'acme'], { dataDir: dir, env }));
      const { root_keys } = (await snapshotDatabase(dir)) as { root_keys: { kdf: string }[] };
      return { dir, masterKey: created.stdout.trim(), kdf: JSON.parse(root_keys[0]!.kdf) };
    };
    const [plain, variableAlone, nodeEnvAlone, both] = await Promise.all([
      createRoot({ SECRETSFLY_TEST_KDF: undefined, NODE_ENV: undefined }),
      createRoot({ SECRETSFLY_TEST_KDF: 'fast', NODE_ENV: undefined }),
      createRoot({ SECRETSFLY_TEST_KDF: undefined, NODE_ENV: 'test' }),
      createRoot({ SECRETSFLY_TEST_KDF: 'fast', NODE_ENV: 'test' }),
    ]);
    const real = { alg: 'scrypt', v: 1, N: 131072, r: 8, p: 1 };
    expect([plain.kdf, variableAlone.kdf, nodeEnvAlone.kdf]).toEqual([real, real, real]);
    expect(both.kdf).toEqual({ ...real, N: 4096 });
    // A root at the real cost works from the CLI, test variables or not.
    const set = await runCli(['secret', 'set', 'acme', 'prod', 'K', 'v'], {
      dataDir: plain.dir,
      env: { SECRETSFLY_MASTER_KEY: plain.masterKey },
    });
    expect(ok(set).stderr).toContain('K is at version 1');
  });

  it('should set from an argument, a file and stdin, and get back the exact value', async () => {
    ok(await withKey(['secret', 'set', 'acme', 'prod', 'FROM_ARG', 'postgres://u:p@h/db']));
    const file = path.join(tempDir(), 'value.txt');
    fs.writeFileSync(file, 'line one\n  "quoted" $HOME \\n ünïcode\n\n');
    ok(await withKey(['secret', 'set', 'acme', 'prod', 'FROM_FILE', '--from-file', file]));
    ok(
      await withKey(['secret', 'set', 'acme-web', 'prod', 'FROM_STDIN'], {
        input: '-----BEGIN KEY-----\nabc\n-----END KEY-----\n',
      }),
    );

    expect((await withKey(['secret', 'get', 'acme', 'prod', 'FROM_ARG'])).stdout).toBe('postgres://u:p@h/db\n');
    // One trailing newline dropped, everything else byte for byte.
    expect((await withKey(['secret', 'get', 'acme-web', 'prod', 'FROM_FILE'])).stdout).toBe(
      'line one\n  "quoted" $HOME \\n ünïcode\n\n',
    );
    expect((await withKey(['secret', 'get', 'acme-web', 'prod', 'FROM_STDIN'])).stdout).toBe(
      '-----BEGIN KEY-----\nabc\n-----END KEY-----\n',
    );
    const json = JSON.parse(ok(await withKey(['--json', 'secret', 'get', 'acme-web', 'prod', 'FROM_ARG'])).stdout);
    expect(json).toEqual({
      key: 'FROM_ARG',
      value: 'postgres://u:p@h/db',
      version: 1,
      project: 'acme',
      environment: 'prod',
    });
  });

  it('should take the master key from SECRETSFLY_MASTER_KEY', async () => {
    ok(await withKey(['secret', 'set', 'acme', 'staging', 'ENV_KEY', 'v']));
    const result = await cli(['secret', 'get', 'acme', 'staging', 'ENV_KEY'], {
      env: { SECRETSFLY_MASTER_KEY: fs.readFileSync(keyFile, 'utf8').trim() },
    });
    expect(ok(result).stdout).toBe('v\n');
  });

  it('should list, diff, delete, show history and roll back without values where none are needed', async () => {
    ok(await withKey(['secret', 'set', 'acme-web', 'prod', 'OVERRIDE', 'first']));
    ok(await withKey(['secret', 'set', 'acme-web', 'prod', 'OVERRIDE', 'second']));
    const list = JSON.parse(ok(await cli(['--json', 'secret', 'list', 'acme-web', 'prod'])).stdout) as {
      key: string;
      project: string;
      inherited: boolean;
    }[];
    expect(list.find((s) => s.key === 'FROM_ARG')).toMatchObject({ project: 'acme', inherited: true });
    expect(JSON.stringify(list)).not.toContain('postgres://');

    ok(await cli(['secret', 'delete', 'acme-web', 'prod', 'OVERRIDE']));
    const history = JSON.parse(ok(await cli(['--json', 'secret', 'history', 'acme-web', 'prod', 'OVERRIDE'])).stdout);
    expect(history.map((v: { version: number; kind: string }) => [v.version, v.kind])).toEqual([
      [1, 'set'],
      [2, 'set'],
      [3, 'delete'],
    ]);
    ok(await withKey(['secret', 'rollback', 'acme-web', 'prod', 'OVERRIDE', '1']));
    expect((await withKey(['secret', 'get', 'acme-web', 'prod', 'OVERRIDE'])).stdout).toBe('first\n');

    const diff = JSON.parse(ok(await cli(['--json', 'diff', 'acme-web'])).stdout) as {
      key: string;
      missing_in: string[];
    }[];
    expect(diff.find((d) => d.key === 'FROM_ARG')).toEqual({
      key: 'FROM_ARG',
      present_in: ['prod'],
      missing_in: ['staging'],
    });
  });

  it('should import a dotenv file', async () => {
    const file = path.join(tempDir(), 'app.env');
    fs.writeFileSync(file, '# comment\nPORT=3000\nexport NAME="my app"\nMULTI="a\\nb"\n');
    const result = ok(await withKey(['import', 'acme-web', 'staging', file]));
    expect(result.stderr).toContain('imported 3 keys');
    expect((await withKey(['secret', 'get', 'acme-web', 'staging', 'MULTI'])).stdout).toBe('a\nb\n');
  });

  it('should create keyed tokens by default (with the master key) and classic ones on request', async () => {
    const refused = await cli(['token', 'create', 'acme-web', 'prod']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "secretsfly: a keyed token needs the root's master key: pass --master-key-file or set SECRETSFLY_MASTER_KEY (or create a --classic token)\n",
    );
    const keyed = ok(await withKey(['token', 'create', 'acme-web', 'staging']));
    expect(keyed.stdout.trim()).toMatch(/^sfst_k1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(keyed.stderr).toContain('created keyed read token');
    const classic = ok(await cli(['token', 'create', 'acme-web', 'staging', '--classic']));
    expect(classic.stdout.trim()).toMatch(/^sfst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const table = ok(await cli(['token', 'list', 'acme-web'])).stdout;
    expect(table).toMatch(/KIND/);
    expect(table).toMatch(/keyed +read/);
    expect(table).toMatch(/classic +read/);
    for (const created of [keyed, classic])
      ok(await cli(['token', 'revoke', /_([0-9a-f]{16})_/.exec(created.stdout)![1]!]));
  });

  it('should create, list and revoke tokens, printing a token only once', async () => {
    const created = ok(await withKey(['token', 'create', 'acme-web', 'prod', '--write', '--expires-in', '7d']));
    const token = created.stdout.trim();
    expect(token).toMatch(/^sfst_k1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const id = token.slice(8, 24);
    const list = JSON.parse(ok(await cli(['--json', 'token', 'list', 'acme-web'])).stdout) as Record<string, unknown>[];
    expect(Object.keys(list[0]!).sort()).toEqual(
      [
        'access',
        'created_at',
        'environment',
        'expires_at',
        'id',
        'last_used_at',
        'name',
        'project',
        'revoked_at',
      ].sort(),
    );
    expect(list.find((t) => t.id === id)).toMatchObject({
      access: 'read_write',
      project: 'acme-web',
      environment: 'prod',
      revoked_at: null,
    });
    expect(JSON.stringify(list)).not.toContain(token);
    ok(await cli(['token', 'revoke', id]));
    const after = JSON.parse(ok(await cli(['--json', 'token', 'list'])).stdout) as {
      id: string;
      revoked_at: string | null;
    }[];
    expect(after.find((t) => t.id === id)!.revoked_at).not.toBeNull();
  });

  it('should manage environments and users, and work on an empty DATA_DIR', async () => {
    ok(await cli(['env', 'create', 'dev']));
    expect(JSON.parse(ok(await cli(['--json', 'env', 'list'])).stdout).map((e: { name: string }) => e.name)).toEqual([
      'prod',
      'staging',
      'dev',
    ]);
    ok(await cli(['user', 'create', 'admin'], { env: { SECRETSFLY_PASSWORD: 'a long enough password' } }));
    const empty = tempDir();
    // Only the commands that start an installation create a database (test/cli/datadir-missing.test.ts).
    expect((await runCli(['project', 'list'], { dataDir: empty })).code).toBe(1);
    expect((await runCli(['migrate'], { dataDir: empty })).code).toBe(0);
    expect((await runCli(['project', 'list'], { dataDir: empty })).code).toBe(0);
  });

  describe('bad input: one clear line, the right exit code, nothing changed', () => {
    const cases: [string, string[], number, RegExp, { input?: string; file?: string }?][] = [
      ['a bad project name', ['project', 'create', 'Bad_Name'], 1, /invalid project name/],
      ['an existing project', ['project', 'create', 'acme'], 1, /already exists/],
      ['a missing parent', ['project', 'create', 'x', '--parent', 'nope'], 1, /project "nope" not found/],
      ['a missing project', ['secret', 'list', 'nope', 'prod'], 1, /project "nope" not found/],
      ['a missing environment', ['secret', 'list', 'acme', 'nope'], 1, /environment "nope" not found/],
      [
        'a bad key name',
        ['secret', 'set', 'acme', 'prod', '1BAD', 'v', '--master-key-file', 'KEYFILE'],
        1,
        /invalid key \(it starts with a digit\)/,
      ],
      ['a wrong master key', ['secret', 'set', 'acme', 'prod', 'K', 'v'], 1, /invalid master key/, { file: 'wrong' }],
      [
        'an oversized value',
        ['secret', 'set', 'acme', 'prod', 'K', '--master-key-file', 'KEYFILE'],
        1,
        /larger than 65536 bytes/,
        { input: 'x'.repeat(70000) },
      ],
      [
        'a malformed dotenv file',
        ['import', 'acme', 'prod', 'DOTENV', '--master-key-file', 'KEYFILE'],
        1,
        /invalid key \(character 4 is not allowed\)/,
      ],
      [
        'an empty dotenv file',
        ['import', 'acme', 'prod', 'EMPTY', '--master-key-file', 'KEYFILE'],
        1,
        /no KEY=value lines/,
      ],
      [
        'a missing file',
        ['import', 'acme', 'prod', '/nonexistent.env', '--master-key-file', 'KEYFILE'],
        1,
        /does not exist/,
      ],
      [
        'a rollback to a deletion',
        ['secret', 'rollback', 'acme-web', 'prod', 'OVERRIDE', '3', '--master-key-file', 'KEYFILE'],
        1,
        /is a deletion/,
      ],
      ['a bad duration', ['token', 'create', 'acme', 'prod', '--expires-in', '3 weeks'], 1, /invalid duration/],
      ['a missing argument', ['secret', 'set'], 2, /missing required argument/],
      ['an unknown command', ['sekret'], 2, /unknown command/],
      ['an unknown option', ['project', 'list', '--bogus'], 2, /unknown option/],
      [
        'a bad version',
        ['secret', 'rollback', 'acme', 'prod', 'K', 'two', '--master-key-file', 'KEYFILE'],
        2,
        /not a version number/,
      ],
    ];
    for (const [what, args, code, message, extra] of cases) {
      it(`should refuse ${what}`, async () => {
        const dir = tempDir();
        const wrongKey = path.join(dir, 'wrong.key');
        fs.writeFileSync(wrongKey, 'sfmk_' + 'A'.repeat(43));
        fs.writeFileSync(path.join(dir, 'bad.env'), 'GOOD=1\nbad-key=2\n');
        fs.writeFileSync(path.join(dir, 'empty.env'), '# nothing here\n');
        const resolved = args.map((arg) =>
          arg === 'KEYFILE'
            ? keyFile
            : arg === 'DOTENV'
              ? path.join(dir, 'bad.env')
              : arg === 'EMPTY'
                ? path.join(dir, 'empty.env')
                : arg,
        );
        if (extra?.file === 'wrong') resolved.push('--master-key-file', wrongKey);
        const before = await snapshotDatabase(dataDir);
        const result = await cli(resolved, extra?.input === undefined ? {} : { input: extra.input });
        expect(result.code).toBe(code);
        expect(result.stderr).toMatch(message);
        expect(result.stderr.trim().split('\n').length <= 2, result.stderr).toBe(true);
        expect(result.stdout).toBe('');
        expect(await snapshotDatabase(dataDir)).toEqual(before);
      });
    }

    it('should stop on a malformed variable with one line naming it', async () => {
      const result = await cli(['project', 'list'], { env: { ADMIN_MASTER_KEY_EXPIRATION: 'abc' } });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain('ADMIN_MASTER_KEY_EXPIRATION');
    });
  });
});
