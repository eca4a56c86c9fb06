import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, createTestContext, runCli, succeeded } from '../helpers/test-context.js';

const VALUE = 'pl41n-cli-db-password';

/** `secretsfly secret access-log` as an operator runs it on the server, after `secret get`. */
describe('secret access-log', () => {
  let dataDir: string;
  let keyFile: string;
  const cli = (args: string[]) => runCli(args, { dataDir, env: { AVAILABLE_ENVIRONMENTS: 'prod,staging' } });

  beforeAll(async () => {
    const ctx = await createTestContext();
    dataDir = ctx.dataDir;
    try {
      const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
      await ctx.projects.create({ name: 'acme-web', parent: 'acme' }, actor);
      const access = { masterKey: new TextEncoder().encode(masterKey) };
      await ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'DB_PASSWORD', value: VALUE }, access, actor);
      await ctx.secrets.set(
        { project: 'acme', environment: 'prod', key: 'UNREAD', value: 'pl41n-unread' },
        access,
        actor,
      );
      keyFile = path.join(dataDir, 'master-key');
      fs.writeFileSync(keyFile, masterKey, { mode: 0o600 });
    } finally {
      await ctx.close();
    }
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('should list each secret get as the CLI, with first, last and count, and never the value', async () => {
    // Read from the child: the value is acme's, so acme's log lists it.
    for (let i = 0; i < 2; i++) {
      const got = succeeded(
        await cli(['secret', 'get', 'acme-web', 'prod', 'DB_PASSWORD', '--master-key-file', keyFile]),
      );
      expect(got.stdout).toBe(`${VALUE}\n`);
    }
    const json = succeeded(await cli(['--json', 'secret', 'access-log', 'acme', 'prod', 'DB_PASSWORD']));
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'cli', via: 'cli_get', count: 2, last_ip: null });
    expect(String(rows[0]!.actor)).toMatch(/^cli:/);
    expect(rows[0]!.first_at! < rows[0]!.last_at!).toBe(true);

    const table = succeeded(await cli(['secret', 'access-log', 'acme', 'prod', 'DB_PASSWORD']));
    expect(table.stdout).toContain('CLI secret get');
    for (const output of [json, table]) {
      expect(output.stdout + output.stderr).not.toContain(VALUE);
      expect(output.stdout + output.stderr).not.toContain('pl41n');
    }
  });

  it('should list nobody for a key never revealed, and refuse a key the project never had', async () => {
    const unread = succeeded(await cli(['--json', 'secret', 'access-log', 'acme', 'prod', 'UNREAD']));
    expect(JSON.parse(unread.stdout)).toEqual([]);
    // The empty table says so on stderr, like every listing command.
    expect(succeeded(await cli(['secret', 'access-log', 'acme', 'prod', 'UNREAD'])).stderr).toContain('nobody');
    const missing = await cli(['secret', 'access-log', 'acme', 'prod', 'NOPE']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('NOPE');
  });
});
