import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, runProcess, succeeded, tempDir } from '../helpers/test-context.js';

const hasZsh = spawnSync('sh', ['-c', 'command -v zsh'], { stdio: 'ignore' }).status === 0;

/**
 * `secretsfly completion bash|zsh`, run for real: the bash script is sourced in a bash child whose
 * PATH holds `secretsfly`, COMP_WORDS is set as bash would set it, and COMPREPLY is read back.
 * Project and environment names come from `secretsfly __complete`, from DATA_DIR's SQLite database.
 */
describe('shell completion', () => {
  let dataDir: string;
  let binDir: string;
  let script: string;
  // Names are read from DATA_DIR's SQLite file, whichever engine this pass runs the rest on.
  const sqlite = { DATABASE_URL: undefined };

  beforeAll(async () => {
    dataDir = tempDir();
    binDir = tempDir();
    fs.symlinkSync(BIN, path.join(binDir, 'secretsfly'));
    succeeded(await runCli(['project', 'create', 'acme'], { dataDir, env: sqlite }));
    succeeded(await runCli(['project', 'create', 'acme-web', '--parent', 'acme'], { dataDir, env: sqlite }));
    script = path.join(tempDir(), 'secretsfly.bash');
    fs.writeFileSync(script, succeeded(await runCli(['completion', 'bash'], { dataDir })).stdout);
  });
  afterAll(() => {
    for (const dir of [dataDir, binDir, path.dirname(script)]) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What bash offers after `words` (the last one is the word being completed). */
  const complete = (...words: string[]): string[] => {
    const program = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${words.map((word) => JSON.stringify(word)).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_secretsfly',
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join('\n');
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program], {
      env: { PATH: `${binDir}:${process.env.PATH}`, HOME: process.env.HOME, DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    return out.split('\n').filter((line) => line !== '');
  };

  it('should complete command names', () => {
    expect(complete('secretsfly', 'se')).toEqual(['secret', 'serve', 'secrets']);
  });

  it('should complete subcommand names', () => {
    expect(complete('secretsfly', 'secret', 'g')).toEqual(['get']);
  });

  it("should complete project names from DATA_DIR's database where the command takes a project", () => {
    expect(complete('secretsfly', 'secret', 'get', 'ac')).toEqual(['acme', 'acme-web']);
    expect(complete('secretsfly', 'secret', 'get', 'acme-w')).toEqual(['acme-web']);
    expect(complete('secretsfly', 'rotate', '')).toEqual(['acme', 'acme-web']);
  });

  it('should complete environment names in the environment position, past options and their values', () => {
    expect(complete('secretsfly', 'secret', 'get', 'acme-web', 'pr')).toEqual(['prod']);
    expect(complete('secretsfly', 'secret', 'get', '--master-key-file', 'k', 'acme', 'pr')).toEqual(['prod']);
  });

  it("should complete a command's options", () => {
    expect(complete('secretsfly', 'secret', 'get', '--m')).toEqual(['--master-key-file']);
  });

  it('should print nothing for names when there is no database, and nothing on stderr', async () => {
    const empty = tempDir();
    const result = await runCli(['__complete', 'projects'], { dataDir: empty, env: sqlite });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('should keep __complete out of the help', async () => {
    const help = succeeded(await runCli(['--help'], { dataDir }));
    expect(help.stdout).toContain('completion');
    expect(help.stdout).not.toContain('__complete');
  });

  // zsh is not installed everywhere: without it, the script is only checked to be generated.
  it(`should generate a zsh script that registers with compdef${hasZsh ? ' and parses' : ' (zsh not installed)'}`, async () => {
    const zsh = succeeded(await runCli(['completion', 'zsh'], { dataDir })).stdout;
    expect(zsh).toMatch(/^#compdef secretsfly\n/);
    expect(zsh).toContain('compdef _secretsfly secretsfly');
    if (hasZsh) expect((await runProcess('zsh', ['-n'], { env: {}, input: zsh })).code).toBe(0);
  });

  it('should refuse another shell as a usage error', async () => {
    const result = await runCli(['completion', 'fish'], { dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bash or zsh');
  });
});

describe('a mistyped command', () => {
  it('should exit 2 and suggest the nearest command', async () => {
    const result = await runCli(['secrte', 'list'], { dataDir: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'secrte'");
    expect(result.stderr).toContain('Did you mean secret?');
  });
});
