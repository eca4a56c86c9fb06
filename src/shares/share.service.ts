import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { sha256 } from '../crypto/hash.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { InvalidRequest, NotFound, ShareGone, TooLarge } from '../errors.js';
import { parseDuration } from '../tokens/token-duration.js';
import { shareRepository } from './share.repository.js';
import type { ShareRow, ShareState } from './share.table.js';

export const SHARE_ID = /^[A-Za-z0-9_-]{22}$/;
const CIPHERTEXT = /^v1\.[pn]\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TTL_SECONDS = 7 * 86400;

const hash = (text: string) => sha256(text);

/** One-time shares: ciphertext in, ciphertext out once; the server never sees a key or a plaintext. */
export function createShareService(deps: {
  db: Kysely<Database>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
  maxBytes: number;
}) {
  const { db, audit, now, maxBytes } = deps;

  /** The state as of now: a pending share past its expiry reads as expired even before the cleanup runs. */
  const stateOf = (row: Pick<ShareRow, 'state' | 'expires_at'>, at = now()): ShareState =>
    row.state === 'pending' && new Date(row.expires_at) <= at ? 'expired' : row.state;

  async function create(
    input: { ciphertext: unknown; ttl: unknown; passphraseProtected?: unknown },
    actor: Actor,
  ): Promise<{ id: string; creator_key: string; expires_at: string }> {
    if (typeof input.ciphertext !== 'string') throw new InvalidRequest('"ciphertext" must be a string');
    if (input.ciphertext.length > maxBytes)
      throw new TooLarge(`a share is at most ${maxBytes} characters of ciphertext`);
    if (!CIPHERTEXT.test(input.ciphertext))
      throw new InvalidRequest('"ciphertext" is not a secretsfly share (encrypt it on your side first)');
    const ttl =
      typeof input.ttl === 'number' ? input.ttl : typeof input.ttl === 'string' ? parseDuration(input.ttl) : NaN;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_SECONDS)
      throw new InvalidRequest('"ttl" must be from 1 minute to 7 days (e.g. "1h" or 3600)');
    const passphraseProtected = input.ciphertext.startsWith('v1.p.');
    if (input.passphraseProtected !== undefined && input.passphraseProtected !== passphraseProtected) {
      throw new InvalidRequest('"passphrase_protected" does not match the ciphertext');
    }
    const id = randomBytes(16).toString('base64url');
    const creatorKey = `sfck_${randomBytes(32).toString('base64url')}`;
    const at = now();
    const expiresAt = new Date(at.getTime() + ttl * 1000).toISOString();
    await writeTransaction(db, async (trx) => {
      await shareRepository.insertShare(trx, {
        id,
        creator_key_hash: hash(creatorKey),
        ciphertext: input.ciphertext as string,
        passphrase_protected: passphraseProtected ? 1 : 0,
        state: 'pending',
        created_at: at.toISOString(),
        expires_at: expiresAt,
        ended_at: null,
        created_by: actor.name.slice(0, 200),
      });
      await audit.record(trx, {
        actor,
        action: 'share_created',
        details: { share_id: id, expires_at: expiresAt, protected: passphraseProtected },
      });
    });
    return { id, creator_key: creatorKey, expires_at: expiresAt };
  }

  async function find(id: string): Promise<ShareRow> {
    const row = SHARE_ID.test(id) ? await shareRepository.findShare(db, id) : undefined;
    if (!row) throw new NotFound('share', id.slice(0, 40));
    return row;
  }

  /** What the public page may know without consuming anything. */
  async function peek(id: string): Promise<{ state: ShareState; passphraseProtected: boolean; expiresAt: string }> {
    const row = await find(id);
    return { state: stateOf(row), passphraseProtected: row.passphrase_protected === 1, expiresAt: row.expires_at };
  }

  async function assertCreator(id: string, creatorKey: string | undefined): Promise<ShareRow> {
    const row = await find(id);
    const given = hash(creatorKey ?? '');
    if (!creatorKey || !timingSafeEqual(Buffer.from(given), Buffer.from(row.creator_key_hash))) {
      // Same answer as an unknown id: the creator key is the only proof.
      throw new NotFound('share', id.slice(0, 40));
    }
    return row;
  }

  async function status(id: string, creatorKey: string | undefined) {
    const row = await assertCreator(id, creatorKey);
    return { id, state: stateOf(row), expires_at: row.expires_at, ended_at: row.ended_at };
  }

  /**
   * Hands out the ciphertext once. In one transaction, the statement that marks the share viewed
   * also nulls its ciphertext, and only a pending, unexpired share matches it: of two concurrent
   * reveals exactly one gets the ciphertext.
   */
  async function reveal(id: string, actor: Actor): Promise<{ ciphertext: string }> {
    if (!SHARE_ID.test(id)) throw new NotFound('share', id.slice(0, 40));
    const at = now();
    const revealed = await writeTransaction(db, async (trx): Promise<{ gone: ShareState } | { ciphertext: string }> => {
      const row = await shareRepository.findShare(trx, id);
      if (!row) throw new NotFound('share', id);
      // A second reveal means the link is in more hands than one: recorded, and answered 410.
      const refuse = async (gone: ShareState) => {
        await audit.record(trx, { actor, action: 'share_reveal_refused', details: { share_id: id, state: gone } });
        return { gone };
      };
      const state = stateOf(row, at);
      if (state !== 'pending' || row.ciphertext === null) return refuse(state === 'pending' ? 'viewed' : state);
      if (!(await shareRepository.markViewed(trx, id, at.toISOString()))) return refuse('viewed');
      await audit.record(trx, { actor, action: 'share_viewed', details: { share_id: id } });
      return { ciphertext: row.ciphertext };
    });
    if ('gone' in revealed) throw new ShareGone(revealed.gone);
    return revealed;
  }

  async function burnIn(trx: Kysely<Database>, id: string, actor: Actor): Promise<void> {
    if (await shareRepository.markBurned(trx, id, now().toISOString())) {
      await audit.record(trx, { actor, action: 'share_burned', details: { share_id: id } });
    }
  }

  async function burn(id: string, creatorKey: string | undefined, actor: Actor): Promise<void> {
    await assertCreator(id, creatorKey);
    await writeTransaction(db, (trx) => burnIn(trx, id, actor));
  }

  /**
   * A share whose link never reached its recipient (Slack refused the DM): nobody may ever open
   * it, so its ciphertext goes now, and the failed delivery is audited (`dm_failed`) with the burn.
   */
  async function burnUndelivered(id: string, creatorKey: string, actor: Actor, error: string): Promise<void> {
    await assertCreator(id, creatorKey);
    await writeTransaction(db, async (trx) => {
      await burnIn(trx, id, actor);
      await audit.record(trx, { actor, action: 'dm_failed', details: { share_id: id, error: error.slice(0, 100) } });
    });
  }

  /** Destroys every expired ciphertext (run periodically; expiry is also checked on every access). */
  async function expireDue(): Promise<number> {
    const at = now().toISOString();
    return writeTransaction(db, async (trx) => {
      const due = await shareRepository.expireDue(trx, at);
      if (due.length === 0) return 0;
      await audit.record(
        trx,
        ...due.map((id) => ({
          actor: { name: 'system' },
          action: 'share_expired' as const,
          details: { share_id: id },
        })),
      );
      return due.length;
    });
  }

  return { create, peek, status, reveal, burn, burnUndelivered, expireDue };
}

export type ShareService = ReturnType<typeof createShareService>;
