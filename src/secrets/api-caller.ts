import type { Request } from 'express';
import type { Actor, AuditService } from '../audit/audit.service.js';
import type { DerivationGuard } from '../keys/key.service.js';
import type { AuthenticatedToken } from '../tokens/token.service.js';

/** What an authenticated API request carries to its handler (set by authenticateApi). */
export interface ApiCaller {
  readonly token: AuthenticatedToken;
  readonly actor: Actor;
  /** The X-Master-Key header as bytes (absent or malformed: the handler fails before any derivation). */
  readonly masterKey: Uint8Array | undefined;
  /** Whether an X-Master-Key header was sent at all: a malformed one is refused, keyed token or not. */
  readonly masterKeySent: boolean;
  readonly guard: DerivationGuard;
}

type WithCaller = Request & { apiCaller: ApiCaller };

export const apiCaller = (req: Request): ApiCaller => (req as WithCaller).apiCaller;

export function setApiCaller(req: Request, caller: ApiCaller): void {
  (req as WithCaller).apiCaller = caller;
}

/** An `api_denied` audit event: which token was refused, and why (an error code, never a value). */
export function auditDenied(
  audit: Pick<AuditService, 'enqueue'>,
  caller: ApiCaller,
  reason: string,
  key?: string,
): void {
  audit.enqueue({
    actor: caller.actor,
    action: 'api_denied',
    projectId: caller.token.projectId,
    environment: caller.token.environment,
    key: key ?? null,
    details: { token_id: caller.token.id, reason },
  });
}
