import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, selectRows, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `share status`, `burn` and `list` with the real CLI against a real server: the creator keys live in
 * the user's config ($XDG_CONFIG_HOME/secretsfly/shares.json), private to that user, and a bare word
 * after `share` is a usage error, never a secret.
 */
describe('share status, burn and list', () => {
  let server: TestServer;
  let token: string;
  const alice = tempDir('secretsfly-xdg-alice-');
  const bob = tempDir('secretsfly-xdg-bob-');
  const sharesFile = path.join(alice, 'secretsfly', 'shares.json');

  beforeAll(async () => {
    server = await startTestServer();
    await server.ctx.projects.create({ name: 'acme' }, actor);
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of [alice, bob]) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], xdg = alice, input?: string) =>
    runCli(args, {
      dataDir: '',
      env: { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, XDG_CONFIG_HOME: xdg },
      input,
    });
  const shareCount = async () => (await selectRows(server.dataDir, 'select id from shares')).length;

  it('should create, list, check and burn a share through the creator key kept in the config', async () => {
    const secret = 'the wifi password: share-canary-7731';
    const made = await cli(['share', '--ttl', '15m'], alice, `${secret}\n`);
    expect(made.code, made.stderr).toBe(0);
    const link = made.stdout.trim();
    const [, id, key] = /\/s\/([A-Za-z0-9_-]{22})#([A-Za-z0-9_-]+)$/.exec(link)!;

    // The config: 0700 folder, 0600 file, the creator key but neither the secret nor the link's key.
    expect(fs.statSync(path.dirname(sharesFile)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(sharesFile).mode & 0o777).toBe(0o600);
    const kept = fs.readFileSync(sharesFile, 'utf8');
    expect(kept).toContain(id);
    expect(kept).toMatch(/sfck_/);
    expect(kept).not.toContain(key);
    expect(kept).not.toContain('share-canary-7731');
    expect(fs.readdirSync(path.dirname(sharesFile))).toEqual(['shares.json']); // no temporary file left

    const listed = await cli(['share', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id, state: 'pending', origin: new URL(server.url).origin, error: null }),
    ]);
    const table = await cli(['share', 'list']);
    expect(table.stdout).toMatch(new RegExp(`^ID +CREATED +EXPIRES +STATE +ORIGIN\\n${id} .* pending +http`));

    // By link (its key is not needed) and by id.
    const pending = await cli(['share', 'status', link]);
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.stdout).toMatch(/^pending/);
    expect(JSON.parse((await cli(['share', 'status', id!, '--json'])).stdout)).toMatchObject({ id, state: 'pending' });

    const burned = await cli(['share', 'burn', id!]);
    expect(burned.code, burned.stderr).toBe(0);
    expect(burned.stdout).toContain('burned');
    expect((await cli(['share', 'status', link])).stdout).toMatch(/^burned at /);
    expect(JSON.parse((await cli(['share', 'list', '--json'])).stdout)[0].state).toBe('burned');

    const opened = await cli(['share', 'open', link]);
    expect(opened.code).toBe(1);
    expect(opened.stdout).toBe('');
  });

  it("should show another user's config none of these shares, nor let it check or burn them", async () => {
    const made = await cli(['share'], alice, 'for alice only\n');
    const id = /\/s\/([A-Za-z0-9_-]{22})#/.exec(made.stdout)![1]!;
    const listed = await cli(['share', 'list', '--json'], bob);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const text = await cli(['share', 'list'], bob);
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain('no shares yet');
    const burn = await cli(['share', 'burn', made.stdout.trim()], bob);
    expect(burn.code).toBe(1);
    expect(burn.stderr).toMatch(/^secretsfly: share \S+ is not one of yours[^\n]*\n$/);
    expect((await cli(['share', 'status', id])).stdout).toMatch(/^pending/);
  });

  it('should never take a bare word after share as the secret', async () => {
    const before = await shareCount();
    const keptBefore = fs.readFileSync(sharesFile, 'utf8');
    for (const args of [
      ['share', 'status'],
      ['share', 'burn'],
      ['share', 'stauts'],
      ['share', 'hunter2'],
      ['share', '--ttl', '15m', 'hunter2'],
      ['share', 'create', 'hunter2', 'extra'],
    ]) {
      const run = await cli(args, alice, 'from stdin\n');
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).not.toContain('hunter2');
    }
    const unknown = await cli(['share', 'stauts']);
    expect(unknown.stderr).toMatch(
      /^secretsfly: unknown share command: use create, open, status, burn, list;[^\n]*\n$/,
    );
    expect(await shareCount()).toBe(before);
    expect(fs.readFileSync(sharesFile, 'utf8')).toBe(keptBefore);
  });

  it('should refuse a shares.json others can read, with one line, and share nothing', async () => {
    const carol = tempDir('secretsfly-xdg-carol-');
    try {
      const file = path.join(carol, 'secretsfly', 'shares.json');
      fs.mkdirSync(path.dirname(file), { mode: 0o700 });
      fs.writeFileSync(file, '{"shares":[]}\n', { mode: 0o644 });
      fs.chmodSync(file, 0o644);
      const before = await shareCount();
      for (const args of [['share', 'list'], ['share']]) {
        const run = await cli(args, carol, 'never shared\n');
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(
          /^secretsfly: \S+shares\.json can be read or changed by others \(mode 0644\)[^\n]*\n$/,
        );
      }
      expect(await shareCount()).toBe(before);
    } finally {
      fs.rmSync(carol, { recursive: true, force: true });
    }
  });
});

describe('share create where shares need no token', () => {
  it('should share with SECRETSFLY_URL alone, no token needed or asked for', async () => {
    const server = await startTestServer({ SHARES_REQUIRE_AUTH: 'false' });
    try {
      const config = tempDir('secretsfly-config-');
      const result = await runCli(['share'], {
        dataDir: '',
        input: 'a secret for one person',
        env: { SECRETSFLY_URL: server.url, XDG_CONFIG_HOME: config },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${server.url}/s/[A-Za-z0-9_-]+#`));
    } finally {
      await server.close();
    }
  });
});
