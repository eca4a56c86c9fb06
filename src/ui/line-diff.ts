/** One line of a line diff: kept in both, only in the old text, or only in the new one. */
export interface DiffLine {
  readonly op: 'same' | 'removed' | 'added';
  readonly text: string;
}

/**
 * Past this many cells (lines of one side × lines of the other, after the common start and end are
 * set aside) the middle is shown as all removed, then all added: the table would take 4 bytes a cell,
 * and two values of MAX_SECRET_BYTES can hold 65,536 lines each.
 */
const MAX_CELLS = 1_000_000;

/**
 * The lines of `before` and `after` as a longest-common-subsequence diff, in order. Small on purpose
 * (secret values are short): the common start and end are skipped, the rest is one LCS table.
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const same = (lines: string[]) => lines.map((text): DiffLine => ({ op: 'same', text }));
  const head = same(a.slice(0, start));
  const tail = same(a.slice(endA));
  const oldMiddle = a.slice(start, endA);
  const newMiddle = b.slice(start, endB);
  return [...head, ...diffMiddle(oldMiddle, newMiddle), ...tail];
}

function diffMiddle(a: readonly string[], b: readonly string[]): DiffLine[] {
  const removed = a.map((text): DiffLine => ({ op: 'removed', text }));
  const added = b.map((text): DiffLine => ({ op: 'added', text }));
  if (a.length === 0 || b.length === 0 || a.length * b.length > MAX_CELLS) return [...removed, ...added];
  // lcs[i * width + j]: length of the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      lines.push({ op: 'same', text: a[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) lines.push({ op: 'removed', text: a[i++]! });
    else lines.push({ op: 'added', text: b[j++]! });
  }
  while (i < a.length) lines.push({ op: 'removed', text: a[i++]! });
  while (j < b.length) lines.push({ op: 'added', text: b[j++]! });
  return lines;
}
