import { ipKeyGenerator, MemoryStore, type Options, type Store } from 'express-rate-limit';
import type { Actor } from '../audit/audit.service.js';
import { InvalidMasterKey, RateLimited } from '../errors.js';
import type { ProjectRow } from '../projects/project.table.js';
import type { DerivationGuard, KeyService } from './key.service.js';
import { readPresentedMasterKey } from './master-key.js';

/**
 * Counts wrong master keys per minute in express-rate-limit's store: per holder (an API token; an
 * admin and a root in the UI) and source (the client address), and per holder alone under a larger
 * ceiling. Counting per holder only let anyone holding a token but not its master key lock the
 * legitimate app out of its own secrets: five guesses a minute and the app's next cold pull got 429.
 * Per source, a guesser only locks out itself; the ceiling still bounds what a guesser spread over
 * many addresses can try (and the derivations it costs). A slot is taken before every derivation
 * and given back when the key was right, so concurrent guesses cannot overshoot either limit.
 */
export function createMasterKeyLimiter(perSource: number, perHolder = perSource, shared?: Store) {
  // Shared by every instance on PostgreSQL (http/rate-limit-store.ts): N instances, one count.
  const store: Store = shared ?? new MemoryStore();
  void store.init?.({ windowMs: 60_000 } as Options);
  return {
    guard(holder: string, source = ''): DerivationGuard {
      // Built on every API request, used only when a key must be derived: nothing is computed until then.
      // IPv6 clients are counted per /56 (ipKeyGenerator), or one host would be a thousand sources.
      let fromKey = '';
      return {
        async before() {
          fromKey = `${holder}@${source && ipKeyGenerator(source)}`;
          const fromSource = await store.increment(fromKey);
          if (fromSource.totalHits > perSource) {
            await store.decrement(fromKey);
            throw RateLimited.until(fromSource.resetTime);
          }
          const all = await store.increment(holder);
          // A source with no wrong key in this window is never refused by the ceiling: otherwise
          // guessers spread over enough addresses would fill it and lock out the app, whose right
          // key gives its slots back. What they can try is still bounded: the ceiling, plus one
          // guess a minute per address block they hold.
          if (all.totalHits > perHolder && fromSource.totalHits > 1) {
            await store.decrement(holder);
            await store.decrement(fromKey);
            throw RateLimited.until(all.resetTime);
          }
        },
        async after(succeeded) {
          if (!succeeded) return;
          await store.decrement(fromKey);
          await store.decrement(holder);
        },
      };
    },
    shutdown: () => void store.shutdown?.(),
  };
}

export type MasterKeyLimiter = ReturnType<typeof createMasterKeyLimiter>;

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
    /** The admin session the unseal will belong to (ui-kit.ts: sessionHolder). */
    holder: string,
  ): Promise<{ expiresAt: Date }> {
    const guard = deps.limiter.guard(`${adminId}:${root.id}`);
    const masterKey = readPresentedMasterKey(masterKeyText);
    if (!masterKey) {
      // Unlike the API's, this count belongs to one signed-in admin, so counting a malformed key (it
      // costs no derivation) can lock out nobody but its sender: the form's rule stays "5 tries".
      await guard.before();
      await guard.after(false);
      throw new InvalidMasterKey();
    }
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
