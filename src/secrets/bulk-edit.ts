import { InvalidRequest } from '../errors.js';
import { describeDotenvWarning } from '../formats/dotenv-lines.js';
import { diffLines } from '../ui/line-diff.js';
import type { BulkPreview } from './secret-edit.service.js';
import { SECRET_KEY } from './secret-key.js';

/**
 * The versions a bulk edit's preview saw, carried by its form to the apply (`KEY:3,OTHER:0`): apply
 * refuses if any of them moved. Not secret: names and version numbers only.
 */
export function encodeSeen(seen: ReadonlyMap<string, number>): string {
  return [...seen].map(([key, version]) => `${key}:${version}`).join(',');
}

export function decodeSeen(text: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const part of text === '' ? [] : text.split(',')) {
    const [key = '', version = ''] = part.split(':');
    if (!SECRET_KEY.test(key) || !/^\d{1,9}$/.test(version)) {
      throw new InvalidRequest('this preview is damaged: paste the block and preview it again');
    }
    seen.set(key, Number(version));
  }
  return seen;
}

/** A diff as the views show it: one line each, marked with the sign of `diff -u`. */
export function diffView(before: string, after: string) {
  const signs = { same: ' ', removed: '-', added: '+' } as const;
  return diffLines(before, after).map((line) => ({ op: line.op, sign: signs[line.op], text: line.text }));
}

/** The preview as its page shows it: counts, rows with their change, warnings as sentences. */
export function previewView(preview: BulkPreview) {
  const count = (status: string) => preview.rows.filter((r) => r.status === status).length;
  return {
    rows: preview.rows.map((row) => ({
      ...row,
      diff: row.status === 'changed' ? diffView(row.before ?? '', row.value) : undefined,
    })),
    added: count('added'),
    changed: count('changed'),
    unchanged: count('unchanged'),
    writes: count('added') + count('changed'),
    warnings: preview.warnings.map(describeDotenvWarning),
    seen: encodeSeen(preview.seen),
  };
}
