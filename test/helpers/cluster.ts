import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import httpProxy from 'http-proxy';
import { databaseUrlFor, freePort, type RunningPostgres, SERVER_URL_VARIABLE, startPostgres } from './postgres.js';
import { CLI_FAST_KDF_ENV, type CliResult, runCli, tempDir } from './test-context.js';
import { spawnServe } from './test-server.js';

/** The same for every instance, as it must be behind one load balancer (cookies, anonymous CSRF). */
export const CLUSTER_SESSION_SECRET = 'multi-instance-test-session-secret-0123';

export interface ClusterInstance {
  readonly name: string;
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  alive: boolean;
}

export interface Cluster {
  /** The one database every instance and every CLI run uses. */
  readonly databaseUrl: string;
  readonly instances: readonly ClusterInstance[];
  /** The round-robin proxy in front of the live instances (a load balancer). */
  readonly url: string;
  /** SIGKILL, as a crash or an OOM kill would; the proxy stops sending it requests once it is gone. */
  kill(index: number): Promise<void>;
  /** The real CLI against the same database. */
  cli(
    args: readonly string[],
    options?: { env?: Record<string, string | undefined>; input?: string },
  ): Promise<CliResult>;
  stop(): Promise<void>;
}

/** Waits for a child's exit; true when it exited within `ms`. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * PostgreSQL (the run's server when SECRETSFLY_TEST_PG_URL is set, else one of its own), a fresh
 * empty database, THREE `secretsfly serve` child processes started at the same moment over it (each
 * with its own DATA_DIR), and a round-robin HTTP proxy in this process in front of them.
 */
export async function startCluster(
  env: Record<string, string> = {},
  count = 3,
  options: {
    /** Ports chosen up front, so each instance can be told the INSTANCE_URL the others reach it at. */
    instanceUrls?: boolean;
    /** Per instance: extra settings (e.g. FLY_MACHINE_ID). */
    perInstance?: (index: number) => Record<string, string>;
  } = {},
): Promise<Cluster> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    let serverUrl = process.env[SERVER_URL_VARIABLE];
    if (!serverUrl) {
      const own: RunningPostgres = await startPostgres();
      cleanups.push(() => own.stop());
      serverUrl = own.url;
    }
    const cliDir = tempDir('secretsfly-cluster-cli-');
    cleanups.push(() => fs.rmSync(cliDir, { recursive: true, force: true }));
    const databaseUrl = await databaseUrlFor(cliDir, serverUrl);

    const instances: ClusterInstance[] = [];
    cleanups.push(async () => {
      for (const instance of instances) {
        if (!instance?.alive) continue;
        instance.child.kill('SIGTERM');
        if (!(await exited(instance.child, 10_000))) instance.child.kill('SIGKILL');
        instance.alive = false;
      }
      for (const instance of instances) if (instance) fs.rmSync(instance.dataDir, { recursive: true, force: true });
    });
    const started = await Promise.allSettled(
      Array.from({ length: count }, async (_, i) => {
        const dataDir = tempDir(`secretsfly-i${i + 1}-`);
        const port = options.instanceUrls ? await freePort() : 0;
        const spawned = spawnServe(dataDir, {
          DATABASE_URL: databaseUrl,
          HOST: '127.0.0.1',
          PORT: String(port),
          ...(port !== 0 && { INSTANCE_URL: `http://127.0.0.1:${port}` }),
          ...options.perInstance?.(i),
          AVAILABLE_ENVIRONMENTS: 'prod,staging',
          SESSION_SECRET: CLUSTER_SESSION_SECRET,
          INSTANCE_NAME: `i${i + 1}`,
          ...CLI_FAST_KDF_ENV,
          ...env,
        });
        const { child, url, output } = await spawned;
        const instance: ClusterInstance = { name: `i${i + 1}`, url, dataDir, child, output, alive: true };
        child.on('exit', () => (instance.alive = false));
        instances[i] = instance;
      }),
    );
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;

    const proxy = httpProxy.createProxyServer({});
    let next = 0;
    const server = http.createServer((req, res) => {
      const live = instances.filter((instance) => instance.alive);
      const target = live[next++ % live.length];
      if (!target) {
        res.writeHead(503).end('no live instance');
        return;
      }
      proxy.web(req, res, { target: target.url }, (error) => {
        // The instance died under the request: the client gets a 502, never an acknowledgement.
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${(error as Error).message}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
          proxy.close();
        }),
    );
    const { port } = server.address() as net.AddressInfo;

    return {
      databaseUrl,
      instances,
      url: `http://127.0.0.1:${port}`,
      async kill(index) {
        const instance = instances[index]!;
        instance.child.kill('SIGKILL');
        await exited(instance.child, 10_000);
        instance.alive = false;
      },
      cli: (args, options = {}) =>
        runCli(args, {
          dataDir: cliDir,
          env: { DATABASE_URL: databaseUrl, ...options.env },
          ...(options.input !== undefined && { input: options.input }),
        }),
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
