/**
 * Handlebars helpers. Everything they return is escaped by `{{ }}` like any other value, except the
 * markup of `when` and `navCurrent`, built here from escaped parts (an object with `toHTML()` is
 * what Handlebars takes as already safe).
 */

class Html {
  constructor(private readonly html: string) {}
  toHTML(): string {
    return this.html;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const toDate = (value: unknown): Date | undefined => {
  if (!value) return undefined;
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? undefined : date;
};

/** `2026-11-22 14:03:27 UTC`: the exact form of every date the UI shows. */
export const exactUtc = (date: Date): string => `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
const UNITS: readonly [Intl.RelativeTimeFormatUnit, number, number][] = [
  // unit, its length in seconds, how many of it before the next unit takes over
  ['minute', 60, 60],
  ['hour', 3600, 24],
  ['day', 86_400, 30],
  ['month', 2_629_800, 12],
  ['year', 31_557_600, Infinity],
];

/**
 * `3 minutes ago`, `in 7 days`, `just now`: the visible form of every date the UI shows (static/app.js
 * has the same rules, to keep an open page current).
 */
export function relativeTime(date: Date, now: number = Date.now()): string {
  const seconds = (date.getTime() - now) / 1000;
  if (Math.abs(seconds) < 60) return seconds <= 0 ? 'just now' : 'in under a minute';
  for (const [unit, length, upTo] of UNITS) {
    const count = Math.round(seconds / length);
    if (Math.abs(count) < upTo) return RELATIVE.format(count, unit);
  }
  return exactUtc(date);
}

/**
 * `{{when date}}`: `<time datetime="…" title="2026-11-22 14:03:27 UTC" tabindex="0">3 minutes ago</time>`.
 * Relative, with the exact UTC time on hover (the title) and on keyboard focus (app.css shows the
 * title); `—` for no date. Never wraps (app.css).
 */
function when(value: unknown): Html | string {
  const date = toDate(value);
  if (!date) return '—';
  const exact = exactUtc(date);
  return new Html(
    `<time class="when" datetime="${date.toISOString()}" title="${exact}" tabindex="0">${escapeHtml(relativeTime(date))}</time>`,
  );
}

/** Which entry of the top navigation a page belongs to, when its route did not say (`nav`). */
const SECTION_BY_TITLE: Readonly<Record<string, string>> = {
  Projects: 'projects',
  'New project': 'projects',
  'Store your master key': 'projects',
  Environments: 'environments',
  'Share once': 'share',
  'Audit log': 'audit',
};

function sectionOf(root: Record<string, unknown>): string | undefined {
  if (typeof root.nav === 'string') return root.nav;
  const byTitle = typeof root.title === 'string' ? SECTION_BY_TITLE[root.title] : undefined;
  return byTitle ?? (root.project || root.root ? 'projects' : undefined);
}

interface HelperOptions {
  readonly data?: { readonly root?: Record<string, unknown> };
}

export const viewHelpers = {
  eq: (a: unknown, b: unknown) => a === b,
  or: (...args: unknown[]) => args.slice(0, -1).some(Boolean),
  when,
  /** The former name of `when`, kept so that every page shows dates the same way. */
  date: when,
  /** A message as a sentence: its first letter a capital, whoever wrote it. */
  sentence: (value: unknown) => {
    const text = typeof value === 'string' ? value : String(value ?? '');
    return text.charAt(0).toUpperCase() + text.slice(1);
  },
  /** ` aria-current="page"` on the top navigation's link to the section this page is in. */
  navCurrent: (section: string, options: HelperOptions) =>
    sectionOf(options.data?.root ?? {}) === section ? new Html(' aria-current="page"') : '',
  /** Whole minutes left until a Date, at least 1 while any time is left. */
  minutesLeft: (value: unknown) => {
    if (!(value instanceof Date)) return 0;
    return Math.max(1, Math.ceil((value.getTime() - Date.now()) / 60_000));
  },
  plural: (count: number, one: string, many: string) => (count === 1 ? one : many),
};
