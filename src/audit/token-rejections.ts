import type { AuditEvent } from './audit-types.js';

/** Why a presented service token was refused (the client is told none of this: all are 401 invalid_token). */
export type TokenRejection = 'malformed' | 'unknown' | 'wrong_secret' | 'revoked' | 'expired';

export interface RejectedToken {
  readonly reason: TokenRejection;
  /** Only for a token whose row exists: an unknown id is the attacker's choice and is not kept. */
  readonly tokenId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

/**
 * Refused tokens, counted per (source address, reason, known token) over a window and then handed
 * to the audit queue as one `token_rejected` event each with a count. Anyone can send tokens, so
 * what this writes must not grow with what they send: at most `maxSources` events per window, and
 * everything past that in one more event without an address. The user agent (the sender's choice)
 * is kept from the first request of a group only.
 */
export function createTokenRejections(
  enqueue: (event: AuditEvent) => void,
  options: { windowMs?: number; maxSources?: number; now?: () => Date } = {},
) {
  const { windowMs = 10_000, maxSources = 20 } = options;
  const now = options.now ?? (() => new Date());
  const groups = new Map<string, { event: AuditEvent; count: number }>();
  let overflow: { at: string; count: number } | undefined;
  let timer: NodeJS.Timeout | undefined;

  function note(rejected: RejectedToken): void {
    const key = JSON.stringify([rejected.ip ?? null, rejected.reason, rejected.tokenId ?? null]);
    const group = groups.get(key);
    if (group) group.count += 1;
    else if (groups.size < maxSources) groups.set(key, { event: toEvent(rejected, now().toISOString()), count: 1 });
    else if (overflow) overflow.count += 1;
    else overflow = { at: now().toISOString(), count: 1 };
    timer ??= setTimeout(drain, windowMs).unref();
  }

  /** Hands the window's events to the queue (the queue's flush writes them). */
  function drain(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const { event, count } of groups.values()) enqueue({ ...event, details: { ...event.details, count } });
    if (overflow) {
      enqueue({
        at: overflow.at,
        actor: { name: 'token:?' },
        action: 'token_rejected',
        details: { reason: 'many_sources', count: overflow.count },
      });
    }
    groups.clear();
    overflow = undefined;
  }

  return { note, drain };
}

function toEvent(rejected: RejectedToken, at: string): AuditEvent {
  return {
    at,
    actor: { name: `token:${rejected.tokenId ?? '?'}`, ip: rejected.ip, userAgent: rejected.userAgent },
    action: 'token_rejected',
    details: { reason: rejected.reason, ...(rejected.tokenId && { token_id: rejected.tokenId }) },
  };
}

export type TokenRejections = ReturnType<typeof createTokenRejections>;
