import { type ChildProcess, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/paths.js';

export const BIN = path.join(PACKAGE_ROOT, 'bin/secretsfly.js');
export const DIST_BENCH = path.join(PACKAGE_ROOT, 'dist/benchmark');

/** Starts a server process and resolves with its URL once it prints `listening url="…"`. */
export function spawnListening(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening url="([^"]+)"/.exec(output);
      if (match) resolve({ child, url: match[1]! });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${output.slice(-500)}`)));
  });
}

export function startProbe(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string; ask<T>(message: string): Promise<T> }> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(DIST_BENCH, 'probe-server.js'), [], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const ask = <T>(message: string) =>
      new Promise<T>((answer) => {
        child.once('message', (reply) => answer(reply as T));
        child.send(message);
      });
    child.once('message', (message) => resolve({ child, url: (message as { url: string }).url, ask }));
    child.on('exit', (code) => reject(new Error(`probe exited (${code})`)));
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  // Drop the start-up listener (it rejects on exit) before waiting for this exit.
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * CPU time a process has used so far, every thread included, in nanoseconds: the sum of the first
 * field of /proc/<pid>/task/<tid>/schedstat. Undefined where there is no such file (not Linux).
 * Unlike requests per second, CPU per request barely moves when other processes share the cores.
 */
export function cpuTimeNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let total = 0;
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // A thread that ended between the listing and the read used nothing more.
      }
    }
    return Number.isFinite(total) && total > 0 ? total : undefined;
  } catch {
    return undefined;
  }
}

export interface Load {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  /** The server's CPU time per answered request, in µs, when `serverPid` was given and readable. */
  readonly serverCpuUs?: number;
}

export async function load(
  url: string,
  options: { connections: number; seconds: number; headers?: Record<string, string>; serverPid?: number },
): Promise<Load> {
  // Loaded here, not at the top: autocannon is a dev dependency, and only the load scenarios need it.
  const { default: autocannon } = await import('autocannon');
  const cpuBefore = cpuTimeNs(options.serverPid);
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    headers: options.headers ?? {},
  });
  const cpuAfter = cpuTimeNs(options.serverPid);
  const answered = result.requests.total;
  return {
    requestsPerSecond: result.requests.average,
    requests: answered,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    ...(cpuBefore !== undefined &&
      cpuAfter !== undefined &&
      answered > 0 && { serverCpuUs: (cpuAfter - cpuBefore) / 1e3 / answered }),
  };
}
