import { type AuditAction, isAuditAction } from './audit-actions.js';
import type { AuditEventFilter } from './audit.repository.js';

/** Events per page of the audit log. */
export const AUDIT_PAGE_SIZE = 50;

/** What the audit page's address asks for: its filters, and where the page starts. */
export interface AuditQuery {
  readonly project: string;
  readonly action: AuditAction | '';
  readonly actor: string;
  /** `YYYY-MM-DD`, UTC, inclusive. */
  readonly from: string;
  /** `YYYY-MM-DD`, UTC, inclusive. */
  readonly to: string;
  /** The page of events just older than this seq. */
  readonly before?: number | undefined;
  /** The page of events just newer than this seq. */
  readonly after?: number | undefined;
}

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.trim().slice(0, max) : '');

const day = (value: unknown): string => {
  const given = text(value, 10);
  return /^\d{4}-\d{2}-\d{2}$/.test(given) && !Number.isNaN(Date.parse(`${given}T00:00:00Z`)) ? given : '';
};

const seq = (value: unknown): number | undefined => {
  const given = text(value, 16);
  return /^\d{1,15}$/.test(given) ? Number(given) : undefined;
};

/** The query string read with bounds: anything malformed is no filter at all. */
export function readAuditQuery(query: Record<string, unknown>): AuditQuery {
  const action = text(query.action, 64);
  return {
    project: text(query.project, 63),
    action: isAuditAction(action) ? action : '',
    actor: text(query.actor, 200),
    from: day(query.from),
    to: day(query.to),
    before: seq(query.before),
    after: seq(query.after),
  };
}

const nextDay = (date: string): string => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString();

/** The repository filter for these filters (paging aside); `projectId` is the project's, if it exists. */
export function auditFilter(query: AuditQuery, projectId: string | undefined): Omit<AuditEventFilter, 'limit'> {
  return {
    ...(projectId !== undefined && { projectIds: [projectId] }),
    ...(query.action && { action: query.action }),
    ...(query.actor && { actor: query.actor }),
    ...(query.from && { since: `${query.from}T00:00:00.000Z` }),
    ...(query.to && { until: nextDay(query.to) }),
  };
}

/** `/audit?…` with these filters and this starting point, empty fields left out. */
export function auditHref(query: AuditQuery, start: { before?: number; after?: number } = {}): string {
  const params = new URLSearchParams();
  for (const name of ['project', 'action', 'actor', 'from', 'to'] as const)
    if (query[name]) params.set(name, query[name]);
  if (start.before !== undefined) params.set('before', String(start.before));
  if (start.after !== undefined) params.set('after', String(start.after));
  const search = params.toString();
  return search ? `/audit?${search}` : '/audit';
}

export const hasFilters = (query: AuditQuery): boolean =>
  Boolean(query.project || query.action || query.actor || query.from || query.to);

/** Labels for the detail fields events record; any other field is named after its key. */
const LABELS: Readonly<Record<string, string>> = {
  token_id: 'Token',
  expires_at: 'Expires',
  keys: 'Keys sent',
  count: 'Times',
  ttl: 'Lifetime',
  path: 'Path',
  method: 'Method',
  passphrase_protected: 'Passphrase',
  user_agent: 'Client',
};

export interface DetailField {
  readonly label: string;
  readonly value: string;
  /** Set when the value is a time: the page shows it as every other date. */
  readonly date?: string;
}

const labelOf = (key: string): string => {
  const words = key.replace(/_/g, ' ');
  return LABELS[key] ?? words.charAt(0).toUpperCase() + words.slice(1);
};

const valueOf = (value: unknown): string => {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

const looksLikeTime = (key: string, value: unknown): value is string =>
  key.endsWith('_at') && typeof value === 'string' && !Number.isNaN(Date.parse(value));

/** An event's details as labelled fields, in the order recorded, with where it came from first. */
export function detailFields(details: Record<string, unknown> | null, ip: string | null): DetailField[] {
  const fields: DetailField[] = ip ? [{ label: 'From', value: ip }] : [];
  for (const [key, value] of Object.entries(details ?? {})) {
    if (key === 'expires_at' && value === null) {
      fields.push({ label: labelOf(key), value: 'never' });
      continue;
    }
    fields.push(
      looksLikeTime(key, value)
        ? { label: labelOf(key), value, date: value }
        : { label: labelOf(key), value: valueOf(value) },
    );
  }
  return fields;
}
