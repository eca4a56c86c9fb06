import { MemoryStore, type Options } from 'express-rate-limit';
import type { Actor } from '../audit/audit.service.js';
import { InvalidMasterKey, RateLimited } from '../errors.js';
import type { ProjectRow } from '../projects/project.table.js';
import type { DerivationGuard, KeyService } from './key.service.js';
import { readPresentedMasterKey } from './master-key.js';

/**
 * Counts wrong master keys per holder (an API token; an admin and a root in the UI) per minute, in
 * express-rate-limit's store. A slot is taken before every derivation and given back when the key
 * was right, so concurrent guesses cannot overshoot the limit.
 */
export function createMasterKeyLimiter(perMinute: number) {
  const store = new MemoryStore();
  store.init({ windowMs: 60_000 } as Options);
  return {
    guard(holder: string): DerivationGuard {
      return {
        async before() {
          const { totalHits, resetTime } = await store.increment(holder);
          if (totalHits > perMinute) {
            await store.decrement(holder);
            throw RateLimited.until(resetTime);
          }
        },
        async after(succeeded) {
          if (succeeded) await store.decrement(holder);
        },
      };
    },
    shutdown: () => store.shutdown(),
  };
}

export type MasterKeyLimiter = ReturnType<typeof createMasterKeyLimiter>;

/**
 * A presented master key as bytes (readPresentedMasterKey). A malformed one cannot be right: it
 * costs no derivation but counts as a wrong key, and gives undefined.
 */
export async function guardedMasterKey(text: string, guard: DerivationGuard): Promise<Uint8Array | undefined> {
  const masterKey = readPresentedMasterKey(text);
  if (!masterKey) {
    await guard.before();
    await guard.after(false);
  }
  return masterKey;
}

/**
 * The UI's unseal: wrong master keys limited per admin and root by the same rule as the API's per
 * token (MASTER_KEY_ATTEMPTS_PER_MINUTE); the key's bytes are wiped once it has been tried.
 */
export function createUnsealGuard(deps: { keys: Pick<KeyService, 'unseal'>; limiter: MasterKeyLimiter }) {
  return async function unseal(
    adminId: string,
    root: ProjectRow,
    masterKeyText: string,
    actor: Actor,
    /** The admin session the unseal will belong to (session.ts: sessionHolder). */
    holder: string,
  ): Promise<{ expiresAt: Date }> {
    const guard = deps.limiter.guard(`${adminId}:${root.id}`);
    const masterKey = await guardedMasterKey(masterKeyText, guard);
    if (!masterKey) throw new InvalidMasterKey();
    try {
      await guard.before();
      let succeeded = false;
      try {
        const unsealed = await deps.keys.unseal(root, masterKey, holder, actor);
        succeeded = true;
        return unsealed;
      } finally {
        await guard.after(succeeded);
      }
    } finally {
      masterKey.fill(0);
    }
  };
}

export type UnsealGuard = ReturnType<typeof createUnsealGuard>;
