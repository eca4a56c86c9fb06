import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, runCli, snapshotDatabase, tempDir } from '../helpers/test-context.js';

/** The real CLI run from `cwd` with no DATA_DIR in its environment, as a user's shell would. */
const runFrom = (cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> =>
  runCli(args, { dataDir: '', cwd, env });

const listing = (dir: string) => fs.readdirSync(dir, { recursive: true }).map(String).sort();

describe('a CLI command run where there is no database', () => {
  it('should say where it looked and create nothing, for every command that only reads or changes data', async () => {
    const checkout = tempDir();
    const docs = path.join(checkout, 'docs');
    fs.mkdirSync(docs);
    fs.writeFileSync(path.join(docs, 'README.md'), '# docs\n');
    const keyFile = path.join(tempDir(), 'mk');
    fs.writeFileSync(keyFile, `sfmk_${'k'.repeat(43)}`);
    const before = listing(checkout);
    const expected = path.join(docs, 'data', 'secretsfly.db');

    for (const args of [
      ['project', 'list'],
      ['secret', 'list', 'acme', 'prod'],
      ['secret', 'get', 'acme', 'prod', 'K', '--master-key-file', keyFile],
      ['secret', 'set', 'acme', 'prod', 'K', 'v', '--master-key-file', keyFile],
      ['token', 'list'],
      ['token', 'create', 'acme', 'prod'],
      ['env', 'list'],
      ['env', 'create', 'qa'],
      ['diff', 'acme'],
      ['rotate', 'acme', '--master-key-file', keyFile],
      ['backup', path.join(checkout, 'copy.db')],
      ['project', 'list', '--json'],
    ]) {
      const result = await runFrom(docs, args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stdout, args.join(' ')).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toContain(expected);
      expect(lines[0]).toContain('DATA_DIR');
      expect(lines[0]).not.toContain('no projects');
    }
    expect(listing(checkout)).toEqual(before);
  }, 120_000);

  it('should still let the commands that start an installation create it', async () => {
    const cwd = tempDir();
    const created = await runFrom(cwd, ['project', 'create', 'acme']);
    expect(created.code, created.stderr).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'data', 'secretsfly.db'))).toBe(true);
    const listed = await runFrom(cwd, ['project', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('acme');

    const migrated = await runFrom(tempDir(), ['migrate'], { DATA_DIR: path.join(tempDir(), 'fresh') });
    expect(migrated.code, migrated.stderr).toBe(0);
    const dataDir = tempDir();
    const user = await runCli(['user', 'create', 'alice'], {
      dataDir,
      env: { SECRETSFLY_PASSWORD: 'correct horse 1' },
    });
    expect(user.code, user.stderr).toBe(0);
    expect((await snapshotDatabase(dataDir)).users).toHaveLength(1);
  }, 60_000);
});
