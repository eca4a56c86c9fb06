import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { tokenRepository } from './token.repository.js';

/** How long a token's last-use stamp waits, so that every stamp of a burst shares one commit. */
const TOUCH_BATCH_MS = 100;
/** A busy database (a long re-encryption elsewhere) is not waited for: the stamp is a hint. */
const TOUCH_LOCK_WAIT_MS = 100;
const MAX_REMEMBERED = 10_000;

/**
 * `last_used_at` is a hint, not a record: stamps are written in one transaction 100 ms after the
 * first of a batch, off every request's path (a commit waits for the disk). A batch that meets a
 * busy database is dropped: the next use a minute on stamps again. `flush` writes what is pending
 * (at shutdown).
 */
export function createTouchBatch(db: Kysely<Database>, intervalMs: number) {
  const pending = new Map<string, string>();
  /**
   * When this process last stamped each token. The token row a request sees may be cached from
   * before that stamp (on PostgreSQL a stamp does not move the change stamp: migrations
   * 2026-11-26), so this keeps "at most once a minute" without re-reading the row. Bounded: emptied
   * whenever it passes MAX_REMEMBERED (then at most one extra stamp per token).
   */
  const stamped = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;

  async function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const batch = [...pending];
    pending.clear();
    await writeTransaction(
      db,
      async (trx) => {
        for (const [id, at] of batch) await tokenRepository.touchToken(trx, id, at);
      },
      { lockWaitMs: TOUCH_LOCK_WAIT_MS },
    ).catch(() => undefined);
  }

  function touch(id: string, at: string): void {
    const when = Date.parse(at);
    const last = stamped.get(id);
    if (last !== undefined && when - last <= intervalMs) return;
    if (stamped.size >= MAX_REMEMBERED) stamped.clear();
    stamped.set(id, when);
    pending.set(id, at);
    timer ??= setTimeout(() => void flush(), TOUCH_BATCH_MS).unref();
  }

  return { touch, flush };
}
