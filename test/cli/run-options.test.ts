import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** `run` and `pull` with --only, --exclude, --preserve-env and --no-inherit-env (issue 15). */
describe('choosing which secrets reach the command', () => {
  let server: TestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = () => ({ masterKey: new TextEncoder().encode(masterKey) });
    for (const [key, value] of [
      ['API_KEY', 'from-secretsfly'],
      ['DB_URL', 'postgres://db'],
      ['PORT', '8080'],
    ] as const) {
      await server.ctx.secrets.set({ project: 'app', environment: 'prod', key, value }, access(), actor);
    }
    const { token } = await server.ctx.tokens.create(
      { project: 'app', environment: 'prod', access: 'read', keyed: access() },
      actor,
    );
    env = { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, SECRETSFLY_STATE_DIR: tempDir() };
  });
  afterAll(() => server.close());

  const show = `process.stdout.write(JSON.stringify({ api: process.env.API_KEY, db: process.env.DB_URL,
    port: process.env.PORT, home: process.env.HOME ?? null, count: Object.keys(process.env).length }))`;
  const run = async (flags: string[], extra: Record<string, string> = {}) => {
    const result = await runCli(['run', ...flags, '--', process.execPath, '-e', show], {
      dataDir: '',
      env: { ...env, ...extra },
    });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };

  it('should pass only the keys --only names, or all but --exclude', async () => {
    expect(await run(['--only', 'API_KEY,PORT'])).toMatchObject({ api: 'from-secretsfly', port: '8080' });
    expect((await run(['--only', 'API_KEY'])).db).toBeUndefined();
    expect(await run(['--exclude', 'DB_URL'])).toMatchObject({ api: 'from-secretsfly', port: '8080' });
    expect((await run(['--exclude', 'DB_URL'])).db).toBeUndefined();
    const pulled = await runCli(['pull', '--only', 'PORT'], { dataDir: '', env });
    expect(JSON.parse(pulled.stdout)).toEqual({ PORT: '8080' });
  });

  it('should say which --only key the scope lacks (a typo) and start nothing', async () => {
    const result = await runCli(['run', '--only', 'API_KEY,DB_ULR', '--', process.execPath, '-e', 'console.log(1)'], {
      dataDir: '',
      env,
    });
    expect([result.code, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toContain('--only names DB_ULR');
  });

  it('should let the parent environment win with --preserve-env, and give a clean one with --no-inherit-env', async () => {
    expect((await run([], { PORT: '3000' })).port).toBe('8080');
    expect((await run(['--preserve-env'], { PORT: '3000' })).port).toBe('3000');
    const clean = await run(['--no-inherit-env'], { PORT: '3000' });
    expect(clean).toMatchObject({ api: 'from-secretsfly', port: '8080', home: null, count: 3 });
    const both = await runCli(['run', '--preserve-env', '--no-inherit-env', '--', 'true'], { dataDir: '', env });
    expect(both.code).toBe(2);
  });
});
