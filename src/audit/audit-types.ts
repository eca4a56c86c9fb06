import type { AuditAction } from './audit-actions.js';

/** Who did it and from where; services receive it from the route or the CLI. */
export interface Actor {
  readonly name: string;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

/** How a value reached someone, as the access log names it. */
export type AccessVia = 'ui_reveal' | 'cli_get' | 'pull' | 'keyed_pull' | 'sealed_pull' | 'api_get';

/**
 * The keys a read handed out, carried with its event to the access log (src/audit/secret-access.ts)
 * and never written into the event itself: the event's details name its `keys_sha256` and `via`.
 * Names only, never a value. Built once per key list and shared by every event that carries it.
 */
export interface ReceivedKeys {
  readonly environmentId: string;
  /** [source project id, key] of every key handed out, sorted. */
  readonly keys: readonly (readonly [string, string])[];
  /** SHA-256 of `keys` as stored in secret_access_keysets (keyListHash). */
  readonly sha256: string;
}

export interface AuditEvent {
  readonly actor: Actor;
  readonly action: AuditAction;
  readonly projectId?: string | null;
  readonly environment?: string | null;
  readonly key?: string | null;
  readonly details?: Record<string, string | number | boolean | null>;
  /** When it happened (ISO 8601), if not when it is written: queued events are written later. */
  readonly at?: string;
  /** A read that handed out values: recorded per key in the access log with the event. */
  readonly received?: { readonly keys: ReceivedKeys; readonly via: AccessVia };
}

/** An event as read back: what the UI and the CLI show. */
export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly projectId: string | null;
  readonly environment: string | null;
  readonly key: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly details: Record<string, unknown> | null;
}

/** `events`: how many events, from the first, are known to be intact. */
export type AuditVerification = { ok: true; events: number } | { ok: false; events: number; problem: string };
