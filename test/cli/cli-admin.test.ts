import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDataDir } from '../helpers/stored-values.js';
import { rawSql, runCli, tempDir, succeeded } from '../helpers/test-context.js';

describe('secretsfly CLI: audit, backup and restore', () => {
  let dataDir: string;
  let keyFile: string;
  const cli = (args: string[], options: { input?: string } = {}) => runCli(args, { dataDir, ...options });
  const ok = succeeded;

  beforeAll(async () => {
    dataDir = tempDir();
    keyFile = path.join(tempDir(), 'acme.key');
    fs.writeFileSync(keyFile, ok(await cli(['project', 'create', 'acme'])).stdout, { mode: 0o600 });
    ok(await cli(['project', 'create', 'acme-web', '--parent', 'acme']));
    const value = '-----BEGIN KEY-----\nabc\n-----END KEY-----\n';
    ok(await cli(['secret', 'set', 'acme-web', 'prod', 'FROM_STDIN', '--master-key-file', keyFile], { input: value }));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  describe('audit', () => {
    it('should verify the log, then detect a row edited in the SQLite file', async () => {
      const events = JSON.parse(ok(await cli(['--json', 'audit', '--project', 'acme-web'])).stdout) as {
        action: string;
      }[];
      expect(events.map((e) => e.action)).toContain('secret_written');
      expect(ok(await cli(['audit', '--verify'])).stdout).toMatch(/^audit log intact: \d+ events\n$/);
      // A copy of the database (its file, WAL and SHM on SQLite), edited by hand.
      const copy = await copyDataDir(dataDir);
      await rawSql(copy, "update audit_events set action = 'secret_deleted' where seq = 3");
      const result = await runCli(['audit', '--verify'], { dataDir: copy });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('audit log altered: event 3 was altered');
    });
  });

  describe('backup and restore', () => {
    it('should restore a backup that reads back with the master key, and refuse to overwrite without --force', async () => {
      // On PostgreSQL too: the backup is an SQLite file, restored into the (empty) database of `restored`.
      const backup = path.join(tempDir(), 'backup.db');
      ok(await cli(['backup', backup]));
      const restored = tempDir();
      ok(await runCli(['restore', backup], { dataDir: restored }));
      const get = await runCli(['secret', 'get', 'acme-web', 'prod', 'FROM_STDIN', '--master-key-file', keyFile], {
        dataDir: restored,
      });
      expect(ok(get).stdout).toBe('-----BEGIN KEY-----\nabc\n-----END KEY-----\n');
      const again = await runCli(['restore', backup], { dataDir: restored });
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/--force/);
      ok(await runCli(['restore', backup, '--force'], { dataDir: restored }));
      const notADb = path.join(tempDir(), 'junk.db');
      fs.writeFileSync(notADb, 'junk');
      expect((await runCli(['restore', notADb, '--force'], { dataDir: restored })).stderr).toMatch(
        /not an intact secretsfly backup/,
      );
    });
  });
});
