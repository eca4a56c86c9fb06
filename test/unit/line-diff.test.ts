import { describe, expect, it } from 'vitest';
import { diffLines } from '../../src/ui/line-diff.js';

const render = (before: string, after: string) =>
  diffLines(before, after).map((line) => `${{ same: ' ', removed: '-', added: '+' }[line.op]}${line.text}`);

describe('line diff', () => {
  it('should keep common lines and mark only what changed', () => {
    expect(render('a\nb\nc\nd', 'a\nB\nc\nd\ne')).toEqual([' a', '-b', '+B', ' c', ' d', '+e']);
  });

  it('should find lines kept in the middle of a rewrite', () => {
    expect(render('x\nkeep\ny\nalso\nz', 'keep\nnew\nalso')).toEqual(['-x', ' keep', '-y', '+new', ' also', '-z']);
  });

  it('should show a one-line value replaced as one line out and one in', () => {
    expect(render('old', 'new')).toEqual(['-old', '+new']);
    expect(render('same', 'same')).toEqual([' same']);
    expect(render('', 'added')).toEqual(['-', '+added']);
  });

  it('should give up on the table for huge values and still list every line once', () => {
    const before = Array.from({ length: 1500 }, (_, i) => `a${i}`).join('\n');
    const after = Array.from({ length: 1500 }, (_, i) => `b${i}`).join('\n');
    const lines = diffLines(`head\n${before}\ntail`, `head\n${after}\ntail`);
    expect(lines).toHaveLength(3002);
    expect(lines[0]).toEqual({ op: 'same', text: 'head' });
    expect(lines.filter((l) => l.op === 'removed')).toHaveLength(1500);
    expect(lines.at(-1)).toEqual({ op: 'same', text: 'tail' });
  });
});
