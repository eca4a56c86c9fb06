import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProgress } from '../../cli/progress.js';
import { BIN, CLI_FAST_KDF_ENV, engineEnv, runCli, runProcess, succeeded, tempDir } from '../helpers/test-context.js';

/** util-linux `script` runs a command on a pseudo-terminal: the only way to give the CLI a real TTY. */
const hasScript = spawnSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' }).status === 0;
const KEYS = 2000;

describe('progress bars of long operations', () => {
  let dataDir: string;
  let keyFile: string;
  let envFile: string;

  beforeAll(async () => {
    dataDir = tempDir();
    const files = tempDir();
    keyFile = path.join(files, 'master.key');
    fs.writeFileSync(keyFile, 'a-chosen-master-key-0123456789');
    envFile = path.join(files, 'many.env');
    fs.writeFileSync(envFile, Array.from({ length: KEYS }, (_, i) => `KEY_${i}=value-${i}\n`).join(''));
    succeeded(await runCli(['project', 'create', 'acme', '--master-key-file', keyFile], { dataDir }));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it(`should draw a bar on a terminal while importing ${KEYS} keys`, { skip: !hasScript }, async () => {
    const command = ['node', BIN, 'import', 'acme', 'prod', envFile, '--master-key-file', keyFile]
      .map((word) => `'${word}'`)
      .join(' ');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...CLI_FAST_KDF_ENV };
    // -e: script exits with the command's code; its output is the terminal's (stdout and stderr together).
    const tty = await runProcess('script', ['-qfec', command, '/dev/null'], {
      env: { ...env, ...(await engineEnv(dataDir)), TERM: 'xterm' },
    });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(new RegExp(`import \\[[^\\]]*\\] 100% \\| ${KEYS}/${KEYS}`));
    expect(tty.stdout).toContain(`imported ${KEYS} keys into acme/prod (0 unchanged)`);
  });

  it('should print nothing but its result when stderr is piped', async () => {
    const piped = succeeded(
      await runCli(['import', 'acme', 'staging', envFile, '--master-key-file', keyFile], {
        dataDir,
        env: { AVAILABLE_ENVIRONMENTS: 'prod,staging' },
      }),
    );
    expect(piped.stderr).toBe(`imported ${KEYS} keys into acme/staging (0 unchanged)\n`);
    expect(piped.stdout).toBe('');
  });
});

describe('startProgress', () => {
  const stream = (isTTY: boolean) => {
    const out = Object.assign(new PassThrough(), { isTTY, columns: 100 }) as unknown as NodeJS.WriteStream & {
      read(): Buffer | null;
    };
    return out;
  };

  it('should write nothing but logged lines to a stream that is not a terminal', () => {
    const out = stream(false);
    const progress = startProgress('copy', out);
    progress.update(1, 10);
    progress.log('a line');
    progress.update(10, 10);
    progress.stop();
    expect(out.read()?.toString()).toBe('a line\n');
  });

  it('should draw the bar with its label and counts on a terminal, and leave it when stopped', () => {
    const out = stream(true);
    const progress = startProgress('copy', out);
    progress.update(3, 10);
    progress.update(10, 12);
    progress.stop();
    expect(out.read()?.toString()).toMatch(/copy \[[^\]]*\] \d+% \| 10\/12/);
  });

  it('should draw nothing when stopped before any progress', () => {
    const out = stream(true);
    startProgress('copy', out).stop();
    expect(out.read()).toBeNull();
  });
});
