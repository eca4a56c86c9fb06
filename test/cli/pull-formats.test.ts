import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PULL_FORMATS, type PullFormat } from '../../cli/render.js';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `secretsfly pull --format X` against a real server, for every format, with a classic and a keyed
 * token: both print the same bytes (rendered by the CLI from the resolved values), and the format's
 * reference reader reads them back to the values. A value a format cannot carry is refused in one
 * line naming its key, with nothing on stdout. (Each format's rules: test/unit/formats.test.ts.)
 */

/** Values every format carries exactly. */
const VALUES: Record<string, string> = {
  DATABASE_URL: 'postgres://user:p@ss@db:5432/app?sslmode=require&x=1',
  EMPTY: '',
  DOLLAR: '$HOME and ${PATH} and $(whoami)',
  EQUALS: 'a=b=c',
  BACKSLASHES: 'C:\\path\\to\\n\\file',
  DOUBLE_QUOTES: 'say "hello"',
  SINGLE_QUOTE: "it's",
  INNER_SPACES: 'a  b',
  UNICODE: 'ünïcødé 日本語 🔐',
  TRUE: 'true',
  LEADING_ZERO: '0123',
  NULL: 'null',
  TILDE: '~',
  YES: 'yes',
};

function sourcedBySh(text: string, keys: string[]): Record<string, string> {
  const script = `eval "$(cat)"\n${keys.map((key) => `printf '%s\\0' "$${key}"`).join('\n')}`;
  const values = execFileSync('sh', ['-c', script], { input: text, encoding: 'utf8' }).split('\0');
  return Object.fromEntries(keys.map((key, i) => [key, values[i]!]));
}

/** `docker run --env-file`: per line, leading whitespace trimmed, `#` lines skipped, cut at the first `=`, value as is. */
function readDockerEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/u, '');
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    values[line.slice(0, at)] = line.slice(at + 1);
  }
  return values;
}

const READERS: Record<PullFormat, (text: string, keys: string[]) => Record<string, unknown>[]> = {
  json: (text) => [JSON.parse(text)],
  dotenv: (text) => [parseDotenv(text)],
  'dotenv-export': (text, keys) => [parseDotenv(text), sourcedBySh(text, keys)],
  'env-no-quotes': (text) => [parseDotenv(text)],
  docker: (text) => [readDockerEnvFile(text)],
  yaml: (text) => [parseYaml(text)],
  shell: (text, keys) => [sourcedBySh(text, keys)],
};

describe('pull --format, with a classic and a keyed token', () => {
  let server: TestServer;
  const env: Record<'classic' | 'keyed' | 'classicStaging' | 'keyedStaging', Record<string, string>> = {} as never;

  beforeAll(async () => {
    server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    for (const [key, value] of Object.entries(VALUES))
      // `$${` writes a literal `${` (a reference otherwise): what is pulled is the value itself.
      await server.ctx.secrets.set(
        { project: 'app', environment: 'prod', key, value: value.replaceAll('${', () => '$${') },
        access,
        actor,
      );
    // staging: one value with a newline, which some formats cannot carry.
    await server.ctx.secrets.set({ project: 'app', environment: 'staging', key: 'A_FINE', value: 'ok' }, access, actor);
    await server.ctx.secrets.set(
      { project: 'app', environment: 'staging', key: 'PEM', value: '-----BEGIN KEY-----\nMIIB\n-----END KEY-----' },
      access,
      actor,
    );
    const token = async (environment: string, keyed: boolean) =>
      (
        await server.ctx.tokens.create(
          { project: 'app', environment, access: 'read', keyed: keyed ? { masterKey: access.masterKey } : undefined },
          actor,
        )
      ).token;
    const base = { SECRETSFLY_URL: server.url, SECRETSFLY_STATE_DIR: tempDir() };
    // A keyed token pulls zero-knowledge: no master key is given to prove it.
    env.classic = { ...base, SECRETSFLY_TOKEN: await token('prod', false), SECRETSFLY_MASTER_KEY: masterKey };
    env.keyed = { ...base, SECRETSFLY_TOKEN: await token('prod', true) };
    env.classicStaging = { ...base, SECRETSFLY_TOKEN: await token('staging', false), SECRETSFLY_MASTER_KEY: masterKey };
    env.keyedStaging = { ...base, SECRETSFLY_TOKEN: await token('staging', true) };
  });
  afterAll(() => server.close());

  const pull = (format: string, which: keyof typeof env) =>
    runCli(['pull', '--format', format], { dataDir: tempDir(), env: env[which] });

  it.each(PULL_FORMATS)('should print %s identically for both tokens, read back exactly', async (format) => {
    const [classic, keyed] = await Promise.all([pull(format, 'classic'), pull(format, 'keyed')]);
    expect([classic.code, classic.stderr, keyed.code, keyed.stderr]).toEqual([0, '', 0, '']);
    expect(keyed.stdout).toBe(classic.stdout);
    for (const read of READERS[format](classic.stdout, Object.keys(VALUES))) expect(read).toEqual(VALUES);
  });

  it('should refuse, in one line naming the key and with nothing on stdout, a value the format cannot carry', async () => {
    const refusals: Record<string, string> = {
      docker: 'it holds a newline, which ends the line: a docker env file has no quoting',
      'env-no-quotes': 'it holds a line break, which an unquoted KEY=value line cannot carry',
    };
    const runs = Object.entries(refusals).flatMap(([format, reason]) =>
      (['classicStaging', 'keyedStaging'] as const).map(async (which) => ({
        what: `${format} ${which}`,
        result: await pull(format, which),
        expected: { code: 1, stdout: '', stderr: `secretsfly: PEM cannot be written as ${format}: ${reason}\n` },
      })),
    );
    for (const { what, result, expected } of await Promise.all(runs)) expect(result, what).toEqual(expected);
    // The formats that can carry it still do.
    const yaml = await pull('yaml', 'keyedStaging');
    expect(parseYaml(yaml.stdout)).toEqual({ A_FINE: 'ok', PEM: '-----BEGIN KEY-----\nMIIB\n-----END KEY-----' });
  });

  it('should write the same body with `secrets download`, to stdout or a new private file', async () => {
    const dir = tempDir();
    const printed = await runCli(['secrets', 'download', '--format', 'dotenv'], { dataDir: dir, env: env.keyed });
    expect([printed.code, printed.stderr]).toEqual([0, '']);
    expect(parseDotenv(printed.stdout)).toEqual(VALUES);
    const file = `${dir}/app.env`;
    fs.writeFileSync(file, 'OLD=1\n', { mode: 0o644 });
    const saved = await runCli(['secrets', 'download', file, '--format', 'dotenv'], { dataDir: dir, env: env.keyed });
    expect([saved.code, saved.stdout, saved.stderr]).toEqual([0, '', `wrote the secrets to ${file} (mode 0600)\n`]);
    expect(fs.readFileSync(file, 'utf8')).toBe(printed.stdout);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['app.env']);
  });

  it('should name every format when given another', async () => {
    const result = await pull('toml', 'keyed');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`secretsfly: --format takes ${PULL_FORMATS.join(', ')}\n`);
  });
});
