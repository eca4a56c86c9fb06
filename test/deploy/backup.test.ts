import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor, BIN, CLI_FAST_KDF_ENV, FAST_KDF, runCli, snapshotDatabase, tempDir } from '../helpers/test-context.js';
import { call, spawnServe, startTestServer } from '../helpers/test-server.js';

describe('backup and restore under load', () => {
  it('should back up while the API writes, restore into a new DATA_DIR, and read every secret back', async () => {
    const server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'live' }, actor)).masterKey!;
    const { token } = await server.ctx.tokens.create(
      { project: 'live', environment: 'prod', access: 'read_write' },
      actor,
    );
    const valueOf = (i: number) => `value-${i}-${'x'.repeat(i % 50)}`;
    const acknowledged = new Set<number>();
    let next = 0;
    let writing = true;
    const writer = async () => {
      while (writing) {
        const i = next++;
        const res = await call(server, `/api/v1/secrets/KEY_${i}`, {
          method: 'PUT',
          token,
          masterKey,
          body: { value: valueOf(i) },
        });
        if (res.status === 200) acknowledged.add(i);
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const beforeBackup = new Set(acknowledged);
      const backupFile = path.join(tempDir(), 'live.backup');
      const backup = await runCli(['backup', backupFile], { dataDir: server.dataDir });
      expect(backup.code, backup.stderr).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      writing = false;
      await Promise.all(writers);
      expect(acknowledged.size).toBeGreaterThan(beforeBackup.size);

      const restoredDir = tempDir();
      const restore = await runCli(['restore', backupFile], { dataDir: restoredDir });
      expect(restore.code, restore.stderr).toBe(0);
      const restored = await createContext(loadConfig({ DATA_DIR: restoredDir }), { kdfParams: FAST_KDF });
      try {
        const secrets = await restored.secrets.resolve(
          { project: 'live', environment: 'prod' },
          { masterKey: masterKeyBytes(masterKey) },
        );
        // Everything acknowledged before the backup began is in it, and every value in it is exact.
        for (const i of beforeBackup) expect(secrets.get(`KEY_${i}`)?.value).toBe(valueOf(i));
        for (const [key, secret] of secrets) expect(secret.value).toBe(valueOf(Number(key.slice(4))));
        expect(await restored.audit.verify()).toMatchObject({ ok: true });
      } finally {
        await restored.close();
      }
      expect(fs.statSync(backupFile).mode & 0o077).toBe(0);
    } finally {
      writing = false;
      await Promise.all(writers);
      await server.close();
    }
  });
});

describe('restore while a server uses DATA_DIR', () => {
  it('should refuse restore --force while `serve` runs, change nothing, and restore once it has stopped', async () => {
    const dataDir = tempDir();
    const keyFile = path.join(tempDir(), 'mk');
    fs.writeFileSync(keyFile, (await runCli(['project', 'create', 'acme'], { dataDir })).stdout);
    await runCli(['secret', 'set', 'acme', 'prod', 'OLD', 'in-backup', '--master-key-file', keyFile], { dataDir });
    const backupFile = path.join(tempDir(), 'acme.backup');
    expect((await runCli(['backup', backupFile], { dataDir })).code).toBe(0);
    await runCli(['secret', 'set', 'acme', 'prod', 'NEW', 'after-backup', '--master-key-file', keyFile], { dataDir });

    const server = await spawnServe(dataDir);
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    try {
      const before = await snapshotDatabase(dataDir);
      const refused = await runCli(['restore', backupFile, '--force'], { dataDir });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      const lines = refused.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`a secretsfly server is using ${dataDir}: stop it first`);
      expect(await snapshotDatabase(dataDir)).toEqual(before);
      expect((await call(server, '/api/v1/status')).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await exited;
    }

    const restored = await runCli(['restore', backupFile, '--force'], { dataDir });
    expect(restored.code, restored.stderr).toBe(0);
    const keys = ((await snapshotDatabase(dataDir)).secrets as { key: string }[]).map((row) => row.key);
    expect(keys).toEqual(['OLD']);
  }, 60_000);
});

describe('the file a backup writes before it is complete', () => {
  /** A database big enough (100 MiB) that its backup takes a while. */
  async function bigDataDir(): Promise<string> {
    const dataDir = tempDir();
    expect((await runCli(['migrate'], { dataDir })).code).toBe(0);
    const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'));
    sqlite.exec('create table filler (b blob)');
    const insert = sqlite.prepare('insert into filler values (zeroblob(1048576))');
    sqlite.transaction(() => {
      for (let i = 0; i < 100; i++) insert.run();
    })();
    sqlite.close();
    return dataDir;
  }

  /** `secretsfly backup` in a child; resolves once `<target>.partial` exists, with its mode then. */
  function backupUntilPartial(dataDir: string, target: string) {
    const child = spawn(process.execPath, [BIN, 'backup', target], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, ...CLI_FAST_KDF_ENV },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const partial = `${target}.partial`;
    const appeared = (async () => {
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`backup ended first: ${stderr}`);
        try {
          return fs.statSync(partial).mode;
        } catch {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    })();
    return { child, exited, partial, appeared, stderr: () => stderr };
  }

  it('should be readable by its owner alone, even when the backup is killed half-way', async () => {
    const dataDir = await bigDataDir();
    const target = path.join(tempDir(), 'copy.db');
    const run = backupUntilPartial(dataDir, target);
    const mode = await run.appeared;
    run.child.kill('SIGKILL');
    await run.exited;
    // Another local user could otherwise read every wrapped key and ciphertext copied so far.
    expect(mode & 0o077).toBe(0);
    expect(fs.statSync(run.partial).mode & 0o077).toBe(0);

    // The next run replaces the leftover and leaves only the finished copy.
    const again = await runCli(['backup', target], { dataDir });
    expect(again.code, again.stderr).toBe(0);
    expect(fs.existsSync(run.partial)).toBe(false);
    expect(fs.statSync(target).mode & 0o077).toBe(0);
  }, 60_000);

  it('should be removed when the backup fails', async () => {
    const dataDir = await bigDataDir();
    const target = path.join(tempDir(), 'copy.db');
    const run = backupUntilPartial(dataDir, target);
    await run.appeared;
    // Something takes the target's name while the copy runs: the final rename fails.
    fs.mkdirSync(path.join(target, 'in-the-way'), { recursive: true });
    expect(await run.exited).toBe(1);
    expect(run.stderr().trimEnd().split('\n')).toHaveLength(1);
    expect(fs.existsSync(run.partial)).toBe(false);
    expect(fs.readdirSync(path.dirname(target))).toEqual(['copy.db']);
  }, 60_000);
});

describe('the file a restore writes before it is complete', () => {
  it('should be private while it is written and gone when the restore fails', async () => {
    const source = tempDir();
    expect((await runCli(['migrate'], { dataDir: source })).code).toBe(0);
    const sqlite = new SqliteDatabase(path.join(source, 'secretsfly.db'));
    sqlite.exec('create table filler (b blob)');
    const insert = sqlite.prepare('insert into filler values (zeroblob(1048576))');
    sqlite.transaction(() => {
      for (let i = 0; i < 100; i++) insert.run();
    })();
    sqlite.close();
    const backupFile = path.join(tempDir(), 'big.backup');
    expect((await runCli(['backup', backupFile], { dataDir: source })).code).toBe(0);

    // Something that is not a database sits where the restored one must go: the final rename fails.
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, 'secretsfly.db', 'in-the-way'), { recursive: true });
    const staging = path.join(dataDir, 'secretsfly.db.restoring');
    const child = spawn(process.execPath, [BIN, 'restore', backupFile, '--force'], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, ...CLI_FAST_KDF_ENV },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let mode: number | undefined;
    while (mode === undefined && child.exitCode === null) {
      try {
        mode = fs.statSync(staging).mode;
      } catch {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(await exited).toBe(1);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(mode, 'the staging file was never seen').toBeDefined();
    expect(mode! & 0o077).toBe(0);
    expect(fs.existsSync(staging)).toBe(false);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['secretsfly.db']);
  }, 60_000);
});
