import type { AuditAction } from './audit-actions.js';

/** Who did it and from where; services receive it from the route or the CLI. */
export interface Actor {
  readonly name: string;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
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
