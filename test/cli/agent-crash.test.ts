import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CLI_FAST_KDF_ENV, runCli, tempDir } from '../helpers/test-context.js';
import { agentHost } from '../helpers/agent-host.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The agent's file is replaced atomically (temp file, fsync, rename, fsync of the folder): a kill -9
 * at any point of an `add` leaves the old file or the new one, and the next command goes on.
 */
describe('host-held secrets file under kill -9', () => {
  let server: TestServer;
  let base: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    const host = await agentHost(server);
    base = {
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      XDG_CONFIG_HOME: tempDir(),
      ...host.env,
      AGENT_NAME: 'crashy',
      ...CLI_FAST_KDF_ENV,
    };
  });
  afterAll(() => server.close());

  const names = async (env: Record<string, string>): Promise<string[]> => {
    const listed = await runCli(['agent', 'secrets', 'list', '--json'], { dataDir: '', env });
    expect(listed.code, listed.stderr).toBe(0);
    return (JSON.parse(listed.stdout) as { name: string }[]).map((s) => s.name);
  };

  const startAdd = (env: Record<string, string>, name: string): ChildProcess => {
    const child = spawn(process.execPath, [BIN, 'agent', 'secrets', 'add', name], {
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stdin!.end(`value-of-${name}`);
    return child;
  };

  const killAt = (env: Record<string, string>, name: string, point: string) =>
    new Promise<void>((resolve, reject) => {
      const child = startAdd({ ...env, SECRETSFLY_TEST_AGENT_PAUSE: point }, name);
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (err.includes(`paused ${point}`)) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) =>
        signal === 'SIGKILL' ? resolve() : reject(new Error(`add ended without pausing: ${err}`)),
      );
    });

  it('should leave the old file when killed before the rename, and the new one after it', async () => {
    const env = { ...base, AGENT_DATA_DIR: path.join(tempDir(), 'agent') };
    expect((await runCli(['agent', 'secrets', 'add', 'FIRST'], { dataDir: '', env, input: 'v' })).code).toBe(0);

    await killAt(env, 'SECOND', 'before-rename');
    // The half-done write is a temporary file beside it, and the lock of a dead process.
    expect(fs.readdirSync(env.AGENT_DATA_DIR).some((f) => f.endsWith('.tmp'))).toBe(true);
    expect(await names(env)).toEqual(['FIRST']);

    await killAt(env, 'THIRD', 'after-rename');
    expect(await names(env)).toEqual(['FIRST', 'THIRD']);

    // The next command takes over the dead process's lock and cleans its temporary file.
    const next = await runCli(['agent', 'secrets', 'add', 'FOURTH'], { dataDir: '', env, input: 'v' });
    expect(next.code, next.stderr).toBe(0);
    expect(await names(env)).toEqual(['FIRST', 'FOURTH', 'THIRD']);
    expect(fs.readdirSync(env.AGENT_DATA_DIR).filter((f) => f.endsWith('.tmp') || f === 'lock')).toEqual([]);
  });

  it('should hold the old set or the new one after kill -9 at random points of a loop of adds', async () => {
    const env = { ...base, AGENT_DATA_DIR: path.join(tempDir(), 'agent') };
    expect((await runCli(['agent', 'secrets', 'add', 'K_0'], { dataDir: '', env, input: 'v' })).code).toBe(0);
    let expected = ['K_0'];
    for (let i = 1; i <= 12; i++) {
      const name = `K_${i}`;
      const child = startAdd(env, name);
      // Listened for now: an add faster than the delay has exited before the kill.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Node's start-up, the server round trips and the write take ~150-400 ms here: kill anywhere in it.
      const delay = 100 + Math.floor(Math.random() * 400);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await exited;
      const now = await names(env);
      const added = [...expected, name].sort();
      expect([expected, added]).toContainEqual(now);
      expected = now;
    }
  });
});
