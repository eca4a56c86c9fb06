import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, type CliResult, createTestContext, runCli, succeeded } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** The JSON shapes README.md's CLI section documents, key for key and in order. */
const SHAPES = {
  project: ['name', 'parent', 'root', 'sealed', 'created_at'],
  secret: ['key', 'version', 'project', 'inherited', 'updated_at'],
  version: ['version', 'kind', 'deleted', 'created_at', 'created_by'],
  token: ['id', 'name', 'project', 'environment', 'access', 'created_at', 'last_used_at', 'expires_at', 'revoked_at'],
  environment: ['name', 'created_at'],
  event: ['seq', 'at', 'actor', 'action', 'project', 'environment', 'key', 'ip', 'user_agent', 'details'],
  missing: ['key', 'present_in', 'missing_in'],
} as const;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('--json: the documented shapes, wherever the flag is written', () => {
  let dataDir: string;
  const tokens: string[] = [];
  const cli = (args: string[]) => runCli(args, { dataDir, env: { AVAILABLE_ENVIRONMENTS: 'prod,staging' } });
  const ok = succeeded;
  /** Parses stdout as a JSON array whose every element has exactly the documented keys, in order. */
  const rowsOf = (result: CliResult, keys: readonly string[]) => {
    const rows = JSON.parse(ok(result).stdout) as Record<string, unknown>[];
    expect(Array.isArray(rows)).toBe(true);
    for (const row of rows) expect(Object.keys(row)).toEqual(keys);
    return rows;
  };

  // The data is written through the services with the cheap test KDF (stored per root, like a real
  // one): no real scrypt is needed, since every listing command reads metadata only. The commands
  // under test then run as the real CLI over the same DATA_DIR.
  beforeAll(async () => {
    let clock = Date.now() - 3_600_000;
    const ctx = await createTestContext({ overrides: { now: () => new Date((clock += 1000)) } });
    dataDir = ctx.dataDir;
    try {
      const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
      await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
      const access = { masterKey: new TextEncoder().encode(masterKey) };
      const set = (project: string, environment: string, key: string, value: string) =>
        ctx.secrets.set({ project, environment, key, value }, access, actor);
      await set('acme', 'prod', 'DATABASE_URL', 'postgres://db/prod');
      await set('acme', 'staging', 'DATABASE_URL', 'postgres://db/staging');
      await set('acme', 'prod', 'LOG_LEVEL', 'info');
      await set('acme', 'prod', 'LOG_LEVEL', 'warn');
      await ctx.secrets.remove({ project: 'acme', environment: 'prod', key: 'LOG_LEVEL' }, actor);
      await set('acme-web', 'prod', 'LOG_LEVEL', 'debug');
      for (const name of ['first', 'second']) {
        const created = await ctx.tokens.create(
          { project: 'acme-web', environment: 'prod', access: 'read', name },
          actor,
        );
        tokens.push(created.token);
      }
      await ctx.tokens.revoke(tokens[1]!.slice(5, 21), actor);
    } finally {
      await ctx.close();
    }
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('project list: [{name, parent, root, sealed, created_at}] by name', async () => {
    const rows = rowsOf(await cli(['project', 'list', '--json']), SHAPES.project);
    expect(rows).toEqual([
      { name: 'acme', parent: null, root: 'acme', sealed: true, created_at: expect.stringMatching(ISO) },
      { name: 'acme-web', parent: 'acme', root: 'acme', sealed: true, created_at: expect.stringMatching(ISO) },
    ]);
  });

  it('secret list: [{key, version, project, inherited, updated_at}] by key, no values', async () => {
    const result = await cli(['secret', 'list', '--json', 'acme-web', 'prod']);
    const rows = rowsOf(result, SHAPES.secret);
    expect(rows).toEqual([
      { key: 'DATABASE_URL', version: 1, project: 'acme', inherited: true, updated_at: expect.stringMatching(ISO) },
      { key: 'LOG_LEVEL', version: 1, project: 'acme-web', inherited: false, updated_at: expect.stringMatching(ISO) },
    ]);
    expect(result.stdout).not.toContain('postgres://');
  });

  it('secret history: [{version, kind, deleted, created_at, created_by}] oldest first, no values', async () => {
    const result = await cli(['secret', 'history', 'acme', 'prod', 'LOG_LEVEL', '--json']);
    const rows = rowsOf(result, SHAPES.version);
    expect(rows.map(({ created_at: _, ...rest }) => rest)).toEqual([
      { version: 1, kind: 'set', deleted: false, created_by: 'test' },
      { version: 2, kind: 'set', deleted: false, created_by: 'test' },
      { version: 3, kind: 'delete', deleted: true, created_by: 'test' },
    ]);
    expect(result.stdout).not.toMatch(/info|warn/);
  });

  it("token list: CONTRACT's nine keys, oldest first, never the token itself", async () => {
    const result = await cli(['token', 'list', '--json']);
    const rows = rowsOf(result, SHAPES.token);
    const common = {
      project: 'acme-web',
      environment: 'prod',
      access: 'read',
      created_at: expect.stringMatching(ISO),
      last_used_at: null,
      expires_at: null,
    };
    expect(rows).toEqual([
      { id: tokens[0]!.slice(5, 21), name: 'first', ...common, revoked_at: null },
      { id: tokens[1]!.slice(5, 21), name: 'second', ...common, revoked_at: expect.stringMatching(ISO) },
    ]);
    expect(String(rows[0]!.created_at) < String(rows[1]!.created_at)).toBe(true);
    for (const token of tokens) expect(result.stdout).not.toContain(token.slice(22));
  });

  it('env list: [{name, created_at}] in creation order', async () => {
    const rows = rowsOf(await cli(['env', 'list', '--json']), SHAPES.environment);
    expect(rows.map((row) => row.name)).toEqual(['prod', 'staging']);
    for (const row of rows) expect(row.created_at).toMatch(ISO);
  });

  it('audit: [{seq, at, actor, action, project, environment, key, ip, user_agent, details}] newest first, --action filters', async () => {
    const all = rowsOf(await cli(['audit', '--json']), SHAPES.event);
    const seqs = all.map((row) => row.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(all.find((row) => row.action === 'project_created' && row.project === 'acme-web')).toMatchObject({
      actor: 'test',
      environment: null,
      ip: null,
      user_agent: null,
    });

    const written = rowsOf(await cli(['audit', '--action', 'secret_written', '--json']), SHAPES.event);
    expect(written.length).toBe(5);
    expect(new Set(written.map((row) => row.action))).toEqual(new Set(['secret_written']));
    expect(written[0]).toMatchObject({ project: 'acme-web', environment: 'prod', key: 'LOG_LEVEL' });
  });

  it('diff: [{key, present_in, missing_in}] by key, resolved', async () => {
    const rows = rowsOf(await cli(['diff', 'acme-web', '--json']), SHAPES.missing);
    expect(rows).toEqual([{ key: 'LOG_LEVEL', present_in: ['prod'], missing_in: ['staging'] }]);
  });

  it('should print the same JSON with --json before the command, between group and command, or last', async () => {
    const last = ok(await cli(['secret', 'list', 'acme-web', 'prod', '--json'])).stdout;
    expect(JSON.parse(last)).toHaveLength(2);
    expect(ok(await cli(['--json', 'secret', 'list', 'acme-web', 'prod'])).stdout).toBe(last);
    expect(ok(await cli(['secret', '--json', 'list', 'acme-web', 'prod'])).stdout).toBe(last);
  });

  it('should refuse an unknown audit action with one line naming the valid ones, exit 2', async () => {
    const result = await cli(['audit', '--action', 'secret_stolen', '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('secret_stolen');
    expect(result.stderr).toMatch(/login, login_failed, .*secret_written.*dm_failed/);
  });

  describe('run', () => {
    let server: TestServer;
    let env: Record<string, string>;

    beforeAll(async () => {
      server = await startTestServer();
      const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
      const { token } = await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor);
      env = { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, SECRETSFLY_MASTER_KEY: masterKey };
    });
    afterAll(() => server.close());

    it("should pass a --json after `--` to the child untouched, even when run's own --json is given", async () => {
      // `x` first: node itself would take a --json right after -e's script as one of its own options.
      const script = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
      for (const args of [
        ['run', '--', process.execPath, '-e', script, 'x', '--json'],
        ['run', '--json', '--', process.execPath, '-e', script, 'x', '--json'],
      ]) {
        const result = await runCli(args, { dataDir: server.dataDir, env });
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toBe('["x","--json"]');
      }
    });
  });
});
