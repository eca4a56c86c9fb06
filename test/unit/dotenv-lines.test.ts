import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { describeDotenvWarning, findSurprisingDotenvLines } from '../../src/formats/dotenv-lines.js';

const lines = (content: string) => findSurprisingDotenvLines(content).map((w) => [w.line, w.key ?? null]);

describe('surprising dotenv lines', () => {
  it('should find nothing in an ordinary file', () => {
    const content = [
      '# database',
      'export DB_URL=postgres://db/app',
      'PLAIN=abc # a comment after a space',
      "QUOTED_HASH='a#b'",
      'DOUBLE="line 1\\nline 2"',
      'MULTI="first',
      'second"',
      'EMPTY=',
      'EMPTY_WITH_COMMENT= # nothing here',
      'SPACED = padded ',
      'COLON: yaml-like',
      '',
      '   ',
    ].join('\n');
    expect(findSurprisingDotenvLines(content)).toEqual([]);
    expect(findSurprisingDotenvLines(content.replace(/\n/g, '\r\n'))).toEqual([]);
  });

  it('should point at an unquoted # that cut the value, where dotenv really cut it', () => {
    expect(parse('HASH_IN_VALUE=abc#def').HASH_IN_VALUE).toBe('abc');
    expect(lines('A=1\nHASH_IN_VALUE=abc#def\nSTARTS=#abc\n')).toEqual([
      [2, 'HASH_IN_VALUE'],
      [3, 'STARTS'],
    ]);
    expect(findSurprisingDotenvLines('K=abc#def')[0]!.problem).toMatch(/unquoted #/);
  });

  it('should point at an opening quote that is never closed', () => {
    expect(parse('UNCLOSED="abc').UNCLOSED).toBe('"abc');
    expect(lines('OK=1\nUNCLOSED="abc\nSINGLE=\'x\n')).toEqual([
      [2, 'UNCLOSED'],
      [3, 'SINGLE'],
    ]);
  });

  it('should point at a quote that swallows the next assignments', () => {
    expect(parse('A="abc\nB=2\nC=x"\n')).toEqual({ A: 'abc\nB=2\nC=x' });
    const [warning] = findSurprisingDotenvLines('A="abc\nB=2\nC=x"\n');
    expect(warning).toMatchObject({ line: 1, key: 'A' });
    expect(warning!.problem).toMatch(/closes only on line 3, taking in line 2/);
  });

  it('should point at an escaped quote kept with its backslash', () => {
    expect(parse('ESCAPED="say \\"hi\\""').ESCAPED).toBe('say \\"hi\\"');
    expect(lines('ESCAPED="say \\"hi\\""\nSINGLE=\'it\\\'s\'\nFINE="it\'s"\n')).toEqual([
      [1, 'ESCAPED'],
      [2, 'SINGLE'],
    ]);
  });

  it('should point at lines that are not assignments, a repeated key and __proto__', () => {
    expect(lines('A=1\njust some words\nexport LONELY\nA=2\n__proto__=x\n')).toEqual([
      [2, null],
      [3, null],
      [4, 'A'],
      [5, '__proto__'],
    ]);
  });

  it('should describe a warning with its line and key, never the value', () => {
    const [warning] = findSurprisingDotenvLines('\n\nPASSWORD=hunter2#rest\n');
    const text = describeDotenvWarning(warning!);
    expect(text).toMatch(/^line 3 \(PASSWORD\): /);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('rest');
  });
});
