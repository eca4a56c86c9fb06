import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseKeyedToken, tokenProof } from '../src/crypto/scoped-keys.js';
import { CliError } from './io.js';

/**
 * `secretsfly run --watch`: the command runs with the resolved secrets while the server is
 * long-polled (`GET /api/v1/watch`) for its tree's revision. When the revision moves, the secrets
 * are pulled again, and only when they differ is the command restarted: SIGTERM, SIGKILL after the
 * grace period, then started again with the new values. When the command exits by itself, so does
 * `run`, with its exit code. An unreachable server leaves the command running: one warning line,
 * then retries with backoff.
 */

/** A started command and its exit code (128 + the signal number when a signal ended it). */
export interface ChildRun {
  readonly child: ChildProcess;
  readonly exit: Promise<number>;
}

export interface WatchOptions {
  readonly url: string;
  readonly token: string;
  readonly graceMs: number;
  readonly fetchValues: () => Promise<Map<string, string>>;
  /** Checks that these values can be passed (throws when not), and gives what starts the command with them. */
  readonly prepare: (values: ReadonlyMap<string, string>) => () => ChildRun;
  readonly signals: readonly NodeJS.Signals[];
}

/** Longer than the server's hold (25 s): a connection silent past this is dead. */
const POLL_TIMEOUT_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;
const STOPPING_SIGNALS: ReadonlySet<string> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

type Answer = { revision: string } | { retry: string; afterMs?: number } | { fatal: string };

/**
 * What the watch presents: a keyed token's proof (`sfzk_`, which cannot open anything: the server
 * derives nothing for it), else the classic token, without the master key (nothing is opened).
 */
function watchCredential(token: string): string {
  const keys = token.startsWith('sfst_k1_') ? parseKeyedToken(token) : undefined;
  if (!keys) return token;
  try {
    return tokenProof(keys.id, keys.authKey);
  } finally {
    keys.authKey.fill(0);
    keys.wrappingKey.fill(0);
  }
}

async function poll(url: string, credential: string, since: string | undefined, signal: AbortSignal): Promise<Answer> {
  const query = since === undefined ? '' : `?since=${encodeURIComponent(since)}`;
  let response: Response;
  let body: string;
  try {
    response = await fetch(`${url}/api/v1/watch${query}`, {
      headers: { authorization: `Bearer ${credential}`, 'user-agent': 'secretsfly-cli' },
      redirect: 'error',
      signal: AbortSignal.any([signal, AbortSignal.timeout(POLL_TIMEOUT_MS)]),
    });
    body = await response.text();
  } catch (error) {
    const { cause } = error as { cause?: { code?: string; message?: string } };
    return {
      retry: `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    };
  }
  let parsed: { revision?: unknown; error?: { code?: string; message?: string } } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // not our JSON: the status alone
  }
  if (response.ok && typeof parsed.revision === 'string') return { revision: parsed.revision };
  const why = parsed.error?.message
    ? `${parsed.error.message} (${parsed.error.code}, HTTP ${response.status})`
    : `HTTP ${response.status}`;
  if (response.status === 404) return { fatal: `the server has no watch endpoint (${why}): upgrade it` };
  if (response.status === 401 || response.status === 403) return { fatal: `the server refused: ${why}` };
  const retryAfter = Number(response.headers.get('retry-after'));
  return { retry: `the server answered ${why}`, ...(retryAfter > 0 && { afterMs: retryAfter * 1000 }) };
}

const sameValues = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean =>
  a.size === b.size && [...a].every(([key, value]) => b.get(key) === value);

const warn = (line: string): void => void process.stderr.write(`secretsfly: watch: ${line}\n`);

/** Runs the command until it exits by itself; its exit code. */
export async function runWatched(options: WatchOptions): Promise<number> {
  const { url, graceMs, fetchValues, prepare } = options;
  const credential = watchCredential(options.token);
  const stop = new AbortController();

  // The revision first, then the values: a write in between only costs one pull that changes nothing.
  let revision: string | undefined;
  const first = await poll(url, credential, undefined, stop.signal);
  if ('fatal' in first) throw new CliError(first.fatal);
  if ('revision' in first) revision = first.revision;
  let values = await fetchValues();

  let finish!: (code: number) => void;
  let fail!: (error: unknown) => void;
  const finished = new Promise<number>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let current: ChildRun;
  let restarting = false;
  let stopAsked = false;
  const follow = (run: ChildRun) =>
    run.exit.then(
      (code) => {
        if (run === current && !restarting) finish(code);
      },
      (error: unknown) => fail(error),
    );
  current = prepare(values)();
  void follow(current);

  const forward = (signal: NodeJS.Signals) => () => {
    // A stop asked for while a restart is under way: the new command is not started.
    if (restarting && STOPPING_SIGNALS.has(signal)) stopAsked = true;
    current.child.kill(signal);
  };
  const handlers = options.signals.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  async function restart(next: ReadonlyMap<string, string>): Promise<void> {
    const start = prepare(next);
    const old = current;
    restarting = true;
    try {
      old.child.kill('SIGTERM');
      const killed = await Promise.race([old.exit.catch(() => -1), sleep(graceMs, undefined, { ref: false })]);
      if (killed === undefined) old.child.kill('SIGKILL');
      const code = await old.exit.catch(() => 1);
      if (stopAsked) return finish(code);
      current = start();
      void follow(current);
    } finally {
      restarting = false;
    }
  }

  async function watchLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let warned = false;
    const retry = async (why: string, afterMs?: number) => {
      if (!warned) warn(`${why}; retrying, the command keeps running`);
      warned = true;
      failures += 1;
      await sleep(afterMs ?? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1)), undefined, { signal });
    };
    while (!signal.aborted) {
      const answer = await poll(url, credential, revision, signal);
      if (signal.aborted) return;
      if ('fatal' in answer) return warn(`${answer.fatal}; no longer watching, the command keeps running`);
      if ('retry' in answer) {
        await retry(answer.retry, answer.afterMs);
        continue;
      }
      if (warned) warn('the server answers again');
      failures = 0;
      warned = false;
      if (answer.revision === revision) continue;
      let next: Map<string, string>;
      try {
        next = await fetchValues();
      } catch (error) {
        // The revision is kept: the next watch answers at once, and the pull is tried again.
        await retry((error as Error).message);
        continue;
      }
      revision = answer.revision;
      if (sameValues(values, next)) continue;
      try {
        await restart(next);
        values = next;
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        // The new values cannot be passed (a NUL): nothing was stopped, the old command runs on.
        warn(`${error.message}; the command keeps running with the previous values`);
      }
    }
  }

  void watchLoop(stop.signal).catch((error: unknown) => {
    if (!stop.signal.aborted) fail(error);
  });
  try {
    return await finished;
  } finally {
    stop.abort();
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
