import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, BIN, runCli, succeeded, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** `secretsfly run --watch` against a real server, with the value changed by the CLI on the same database. */

/** Prints `value <X>` at start and `term <X>` on SIGTERM (then exits 0, or ignores it when told). */
const CHILD = (onTerm: 'exit' | 'ignore') =>
  `process.on('SIGTERM', () => { console.log('term ' + process.env.X); ${onTerm === 'exit' ? 'process.exit(0)' : ''} });` +
  `console.log('value ' + process.env.X); setInterval(() => {}, 1000)`;

interface Watched {
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  /** Resolves when stdout has a line `line`, with the time it arrived. */
  line(line: string, timeoutMs?: number): Promise<number>;
  readonly exit: Promise<number | null>;
}

function watched(args: string[], env: Record<string, string>): Watched {
  const child = spawn(process.execPath, [BIN, 'run', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: 'pipe',
  });
  const waiters: { line: string; resolve: (at: number) => void }[] = [];
  const result: Watched = {
    child,
    stdout: '',
    stderr: '',
    line: (line, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (result.stdout.split('\n').includes(line)) return resolve(performance.now());
        const timer = setTimeout(() => reject(new Error(`no "${line}" in ${JSON.stringify(result)}`)), timeoutMs);
        waiters.push({ line, resolve: (at) => (clearTimeout(timer), resolve(at)) });
      }),
    exit: new Promise((resolve) => child.on('exit', resolve)),
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    result.stdout += chunk;
    const at = performance.now();
    const lines = result.stdout.split('\n');
    for (const waiter of [...waiters]) {
      if (lines.includes(waiter.line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(at);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (result.stderr += chunk));
  return result;
}

describe.each(['keyed', 'classic'] as const)('run --watch with a %s token', (kind) => {
  let server: TestServer;
  let masterKey: string;
  let env: Record<string, string>;
  const latencies: number[] = [];

  /** `secretsfly secret set` on the server's database; resolves when the CLI has committed and exited. */
  const set = async (key: string, value: string, environment = 'prod') =>
    succeeded(
      await runCli(['secret', 'set', 'app', environment, key, value], {
        dataDir: server.dataDir,
        env: { SECRETSFLY_MASTER_KEY: masterKey },
      }),
    );

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await set('X', 'v0');
    const keyed = kind === 'keyed' ? { masterKey: new TextEncoder().encode(masterKey) } : undefined;
    const { token } = await server.ctx.tokens.create(
      { project: 'app', environment: 'prod', access: 'read', keyed },
      actor,
    );
    env = {
      SECRETSFLY_URL: server.url,
      SECRETSFLY_TOKEN: token,
      SECRETSFLY_STATE_DIR: tempDir(),
      ...(kind === 'classic' && { SECRETSFLY_MASTER_KEY: masterKey }),
    };
  });
  afterAll(async () => {
    if (latencies.length > 0)
      console.log(`run --watch (${kind}): write → new child's output, ms: ${latencies.map(Math.round).join(', ')}`);
    await server.close();
  });

  it('should restart the command with the new value within 2 s of a CLI write, after SIGTERM to the old one', async () => {
    const run = watched(['--watch', '--', process.execPath, '-e', CHILD('exit')], env);
    try {
      await run.line('value v0');
      for (let i = 1; i <= 4; i++) {
        await set('X', `v${i}`);
        const written = performance.now();
        const seen = await run.line(`value v${i}`, 5000);
        latencies.push(seen - written);
        expect(seen - written).toBeLessThan(2000);
        expect(run.stdout).toContain(`term v${i - 1}\n`);
      }
      // The tree moved but the resolved values did not (another environment): no restart.
      const before = run.stdout;
      await set('X', 'elsewhere', 'staging');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(run.stdout).toBe(before);
      expect(run.stderr).toBe('');
      // A stop asked of run reaches the child, and its exit code comes back.
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(0);
      expect(run.stdout).toMatch(/term v4\n$/);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('should SIGKILL a command that ignores SIGTERM once the grace period is over', async () => {
    const run = watched(['--watch', '--watch-grace', '0.5', '--', process.execPath, '-e', CHILD('ignore')], env);
    try {
      const current = /value (\S+)\n$/.exec((await run.line(`value v4`), run.stdout))![1]!;
      await set('X', `${current}-next`);
      const written = performance.now();
      const seen = await run.line(`value ${current}-next`, 5000);
      expect(run.stdout).toContain(`term ${current}\n`);
      expect(seen - written).toBeGreaterThan(500);
      expect(seen - written).toBeLessThan(2500);
      await set('X', 'v4');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('should exit with the code of a command that ends by itself, without restarting it', async () => {
    const run = watched(
      [
        '--watch',
        '--',
        process.execPath,
        '-e',
        "console.log('value ' + process.env.X); setTimeout(() => process.exit(5), 300)",
      ],
      env,
    );
    const started = performance.now();
    expect(await run.exit).toBe(5);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(run.stdout).toBe('value v4\n');
  });
});

describe('run --watch when the server goes away', () => {
  it('should keep the command running and warn once', async () => {
    const server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await server.ctx.secrets.set(
      { project: 'app', environment: 'prod', key: 'X', value: 'kept' },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
    const keyed = { masterKey: new TextEncoder().encode(masterKey) };
    const { token } = await server.ctx.tokens.create(
      { project: 'app', environment: 'prod', access: 'read', keyed },
      actor,
    );
    const run = watched(['--watch', '--', process.execPath, '-e', CHILD('exit')], {
      SECRETSFLY_URL: server.url,
      SECRETSFLY_TOKEN: token,
      SECRETSFLY_STATE_DIR: tempDir(),
    });
    try {
      await run.line('value kept');
      await server.close();
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(run.child.exitCode).toBe(null);
      expect(run.stdout).toBe('value kept\n');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^secretsfly: watch: cannot reach .*: ECONNREFUSED; retrying, the command keeps running$/,
      );
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
