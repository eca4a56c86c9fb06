/** Handlebars helpers. Everything they return is escaped by `{{ }}` like any other value. */
export const viewHelpers = {
  eq: (a: unknown, b: unknown) => a === b,
  or: (...args: unknown[]) => args.slice(0, -1).some(Boolean),
  /** `2026-11-22 14:03 UTC` from an ISO timestamp or Date. */
  date: (value: unknown) => {
    if (!value) return '—';
    const date = value instanceof Date ? value : new Date(String(value));
    return Number.isNaN(date.getTime()) ? '—' : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  },
  /** Whole minutes left until a Date, at least 1 while any time is left. */
  minutesLeft: (value: unknown) => {
    if (!(value instanceof Date)) return 0;
    return Math.max(1, Math.ceil((value.getTime() - Date.now()) / 60_000));
  },
  plural: (count: number, one: string, many: string) => (count === 1 ? one : many),
};
