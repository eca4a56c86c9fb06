import type { Changes } from '../db/changes.js';
import { RateLimited } from '../errors.js';
import type { KeyService } from '../keys/key.service.js';

/** How long a watch is held when nothing changes: below common proxies' 30 to 60 s idle timeouts. */
export const WATCH_HOLD_MS = 25_000;
/** How often a tree with waiters has its revision read: the latency a change is seen with. */
export const WATCH_CHECK_MS = 250;
/** Held watches per token (a few `run --watch` on one host share a token); more get 429. */
export const WATCHES_PER_TOKEN = 8;
/** Held watches in all: each holds a socket and a small object. */
export const WATCHES_MAX = 10_000;

interface Waiter {
  readonly rootId: string;
  readonly tokenId: string;
  readonly since: string;
  readonly answer: (revision: string) => void;
}

/**
 * Long-polls on a tree's root `revision` (bumped in the transaction of every write in the tree, by
 * any process or instance). No key, no value and no decryption: the answer is an opaque revision.
 *
 * One timer, running only while something waits, reads each waited-on root's revision every
 * WATCH_CHECK_MS through the change-guarded root key rows: on SQLite a `data_version` read and a
 * map lookup while nothing was written; on PostgreSQL the change stamp (one round trip per tick,
 * whatever the number of waiters) and the row again only when the stamp moved.
 */
export function createWatchService(deps: {
  keys: Pick<KeyService, 'requireRootKey'>;
  changes: Pick<Changes, 'arrived'>;
  holdMs?: number;
  checkMs?: number;
}) {
  const { keys, changes, holdMs = WATCH_HOLD_MS, checkMs = WATCH_CHECK_MS } = deps;
  const waiting = new Map<string, Set<Waiter>>();
  const perToken = new Map<string, number>();
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;
  let closed = false;

  const revisionOf = async (rootId: string): Promise<string> => String((await keys.requireRootKey(rootId)).revision);

  function remove(waiter: Waiter): void {
    const set = waiting.get(waiter.rootId);
    if (!set?.delete(waiter)) return;
    if (set.size === 0) waiting.delete(waiter.rootId);
    const left = (perToken.get(waiter.tokenId) ?? 1) - 1;
    if (left === 0) perToken.delete(waiter.tokenId);
    else perToken.set(waiter.tokenId, left);
    count -= 1;
    if (count === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      // A new question, as a request's arrival is: PostgreSQL's stamp is then read afresh.
      changes.arrived();
      for (const [rootId, set] of waiting) {
        const revision = await revisionOf(rootId);
        for (const waiter of set) if (waiter.since !== revision) waiter.answer(revision);
      }
    } catch {
      // The database did not answer this tick: the next one asks again, and the hold still ends.
    } finally {
      ticking = false;
    }
  }

  /**
   * The tree's revision: at once when it is not `since` (or `since` is absent), else as soon as it
   * moves, else `since` itself after the hold. `signal` ends the wait (the client went away).
   */
  async function wait(token: { id: string; rootId: string }, since: string | undefined, signal?: AbortSignal) {
    const revision = await revisionOf(token.rootId);
    if (since === undefined || revision !== since || closed) return revision;
    if (count >= WATCHES_MAX) throw new RateLimited(5, 'too many watches are held: retry in a moment');
    if ((perToken.get(token.id) ?? 0) >= WATCHES_PER_TOKEN)
      throw new RateLimited(5, `at most ${WATCHES_PER_TOKEN} watches are held per token`);
    return new Promise<string>((resolve) => {
      const hold = setTimeout(() => waiter.answer(since), holdMs);
      const waiter: Waiter = {
        rootId: token.rootId,
        tokenId: token.id,
        since,
        answer: (answered) => {
          clearTimeout(hold);
          signal?.removeEventListener('abort', aborted);
          remove(waiter);
          resolve(answered);
        },
      };
      const aborted = () => waiter.answer(since);
      signal?.addEventListener('abort', aborted, { once: true });
      let set = waiting.get(token.rootId);
      if (!set) waiting.set(token.rootId, (set = new Set()));
      set.add(waiter);
      perToken.set(token.id, (perToken.get(token.id) ?? 0) + 1);
      count += 1;
      timer ??= setInterval(() => void tick(), checkMs).unref();
    });
  }

  /** At shutdown: every held watch is answered with its unchanged revision (its client asks again). */
  function close(): void {
    closed = true;
    for (const set of [...waiting.values()]) for (const waiter of [...set]) waiter.answer(waiter.since);
  }

  return { wait, close, closed: () => closed, held: () => count };
}

export type WatchService = ReturnType<typeof createWatchService>;
