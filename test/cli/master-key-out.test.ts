import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';

/**
 * `--master-key-out <file>` on `project create` and `rotate`: the file is created (0600, never over
 * an existing one) before anything changes, removed again when the command fails, and holds the key.
 */
describe('--master-key-out', () => {
  let dataDir: string;
  let dir: string;
  beforeEach(() => {
    dataDir = tempDir();
    dir = tempDir('secretsfly-keys-');
  });
  afterEach(() => {
    for (const d of [dataDir, dir]) fs.rmSync(d, { recursive: true, force: true });
  });

  const cli = (args: string[], input?: string) => runCli(args, { dataDir, input });
  const projects = async () =>
    (JSON.parse((await cli(['project', 'list', '--json'])).stdout) as { name: string }[]).map((p) => p.name);
  const getWith = (keyFile: string) => cli(['secret', 'get', 'acme', 'prod', 'API_KEY', '--master-key-file', keyFile]);

  it('should write a new root key to a new 0600 file that unlocks the project', async () => {
    const keyFile = path.join(dir, 'acme.key');
    const created = await cli(['project', 'create', 'acme', '--master-key-out', keyFile]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe(`its master key is in ${keyFile} (mode 0600)\n`);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = fs.readFileSync(keyFile, 'utf8');
    expect(key).toMatch(/^\S{20,}\n$/);
    const set = await cli(['secret', 'set', 'acme', 'prod', 'API_KEY', '--master-key-file', keyFile], 'v1\n');
    expect(set.code, set.stderr).toBe(0);
    expect((await getWith(keyFile)).stdout).toBe('v1\n');

    const json = await cli(['project', 'create', 'beta', '--master-key-out', path.join(dir, 'beta.key'), '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      name: 'beta',
      parent: null,
      master_key: null,
      master_key_file: path.join(dir, 'beta.key'),
    });
  });

  it('should refuse an existing file, leaving it as it was and creating no project', async () => {
    const keyFile = path.join(dir, 'acme.key');
    fs.writeFileSync(keyFile, 'precious\n');
    expect((await cli(['project', 'create', 'other', '--master-key-out', path.join(dir, 'other.key')])).code).toBe(0);
    const run = await cli(['project', 'create', 'acme', '--master-key-out', keyFile]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^secretsfly: \S+acme\.key already exists: nothing was changed[^\n]*\n$/);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe('precious\n');
    expect(await projects()).toEqual(['other']);
  });

  it('should refuse an existing project, saying nothing was created, and leave no file', async () => {
    expect((await cli(['project', 'create', 'acme', '--master-key-out', path.join(dir, 'first.key')])).code).toBe(0);
    const keyFile = path.join(dir, 'acme.key');
    const run = await cli(['project', 'create', 'acme', '--master-key-out', keyFile]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'secretsfly: project "acme" already exists: nothing was created, its master key is unchanged\n',
    );
    expect(fs.existsSync(keyFile)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(['first.key']);
  });

  it('should rotate into a new key file, leaving the old key file untouched', async () => {
    const oldFile = path.join(dir, 'acme.key');
    expect((await cli(['project', 'create', 'acme', '--master-key-out', oldFile])).code).toBe(0);
    await cli(['secret', 'set', 'acme', 'prod', 'API_KEY', '--master-key-file', oldFile], 'v1\n');
    const oldKey = fs.readFileSync(oldFile, 'utf8');

    // An existing file refuses the rotation: the old key still works.
    const refused = await cli(['rotate', 'acme', '--master-key-file', oldFile, '--master-key-out', oldFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already exists: nothing was changed');
    expect((await getWith(oldFile)).stdout).toBe('v1\n');

    const newFile = path.join(dir, 'acme.new.key');
    const rotated = await cli(['rotate', 'acme', '--master-key-file', oldFile, '--master-key-out', newFile]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toBe(`the new master key is in ${newFile} (mode 0600)\n`);
    expect(fs.statSync(newFile).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(oldFile, 'utf8')).toBe(oldKey);
    expect(fs.readFileSync(newFile, 'utf8')).not.toBe(oldKey);
    expect((await getWith(newFile)).stdout).toBe('v1\n');
    expect((await getWith(oldFile)).code).toBe(1);

    // A failed rotation (wrong old key) leaves no file behind.
    const failedFile = path.join(dir, 'failed.key');
    const failed = await cli(['rotate', 'acme', '--master-key-file', oldFile, '--master-key-out', failedFile]);
    expect(failed.code).toBe(1);
    expect(fs.existsSync(failedFile)).toBe(false);
  });
});
