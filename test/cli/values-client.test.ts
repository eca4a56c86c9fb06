import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, snapshotDatabase, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const BOM_VALUE = '\ufeffstarts with a byte order mark';

/** Odd values through the real CLI: server-side `secret set/get`, and `pull`/`run` against a real server. */
describe('odd values through the CLI', () => {
  let server: TestServer;
  let work: string;
  let keyFile: string;
  let clientEnv: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    work = tempDir();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    keyFile = path.join(work, 'master.key');
    fs.writeFileSync(keyFile, masterKey);
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: '__proto__', value: 'not a prototype' },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
    const { token } = await server.ctx.tokens.create({ project: 'app', environment: 'prod', access: 'read' }, actor);
    clientEnv = { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, SECRETSFLY_MASTER_KEY: masterKey };
  });
  afterAll(() => server.close());

  const admin = (args: string[], input?: string | Buffer) =>
    runCli([...args, '--master-key-file', keyFile], { dataDir: server.dataDir, ...(input !== undefined && { input }) });
  const client = (args: string[]) => runCli(args, { dataDir: tempDir(), env: clientEnv });
  /** `env` prints one NAME=value line per variable: what the child really received. */
  const childEnv = async () => {
    const result = await client(['run', '--', 'env']);
    expect(result.code).toBe(0);
    return result.stdout.split('\n');
  };

  it('should keep a leading BOM from --from-file and stdin through secret get, pull and run', async () => {
    const file = path.join(work, 'bom.txt');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${BOM_VALUE.slice(1)}\n`)]));
    expect((await admin(['secret', 'set', 'app', 'prod', 'BOM_FILE', '--from-file', file])).code).toBe(0);
    const stdinBytes = Buffer.from(`${BOM_VALUE}\n`, 'utf8');
    expect((await admin(['secret', 'set', 'app', 'prod', 'BOM_STDIN'], stdinBytes)).code).toBe(0);

    for (const key of ['BOM_FILE', 'BOM_STDIN']) {
      expect((await admin(['secret', 'get', 'app', 'prod', key])).stdout).toBe(`${BOM_VALUE}\n`);
    }
    const pulled = JSON.parse((await client(['pull'])).stdout);
    expect(pulled.BOM_FILE).toBe(BOM_VALUE);
    expect(await childEnv()).toContain(`BOM_STDIN=${BOM_VALUE}`);
  });

  it('should hand a key named __proto__ to pull, pull --format shell and run', async () => {
    const pulled = await client(['pull']);
    expect(Object.getOwnPropertyDescriptor(JSON.parse(pulled.stdout), '__proto__')?.value).toBe('not a prototype');
    expect((await client(['pull', '--format', 'shell'])).stdout).toContain("export __proto__='not a prototype'\n");
    expect(await childEnv()).toContain('__proto__=not a prototype');
  });

  it('should refuse a value with a NUL character at secret set, naming the key, and write nothing', async () => {
    const file = path.join(work, 'nul.bin');
    fs.writeFileSync(file, 'before\0after');
    // The earlier tests' pulls are audited in a batch that may land at any moment: write it first.
    await server.ctx.audit.flush();
    const before = await snapshotDatabase(server.dataDir);
    for (const result of [
      await admin(['secret', 'set', 'app', 'prod', 'NUL_VALUE', '--from-file', file]),
      await admin(['secret', 'set', 'app', 'prod', 'NUL_VALUE'], 'before\0after\n'),
    ]) {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('NUL_VALUE');
      expect(result.stderr).toContain('NUL');
      expect(result.stderr).not.toContain('before');
    }
    expect(await snapshotDatabase(server.dataDir)).toEqual(before);
  });

  it('should name the key when a server hands run a value with a NUL character, and run nothing', async () => {
    // An older server (or one written to before the check) may still hold such a value.
    const old = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ project: 'app', environment: 'prod', secrets: { OK: 'x', LEGACY: 'a\0b' } }));
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    try {
      const marker = path.join(work, 'ran');
      const result = await runCli(
        ['run', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`],
        {
          dataDir: tempDir(),
          env: { ...clientEnv, SECRETSFLY_URL: `http://127.0.0.1:${(old.address() as AddressInfo).port}` },
        },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('LEGACY');
      expect(result.stderr).not.toContain('unexpected');
      expect(fs.existsSync(marker)).toBe(false);
    } finally {
      await new Promise((resolve) => old.close(resolve));
    }
  });
});
