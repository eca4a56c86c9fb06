import { type ChildProcess, fork, spawn } from 'node:child_process';
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

export interface Load {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
}

export async function load(
  url: string,
  options: { connections: number; seconds: number; headers?: Record<string, string> },
): Promise<Load> {
  // Loaded here, not at the top: autocannon is a dev dependency, and only the load scenarios need it.
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    headers: options.headers ?? {},
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
