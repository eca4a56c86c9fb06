import { describe, expect, it } from 'vitest';
import { parseDotenv, toDotenv } from '../../src/formats/dotenv.js';

describe('dotenv', () => {
  it('should read KEY=value lines in file order, the last of a repeated key winning', () => {
    expect(parseDotenv('# a comment\nB=two\nA="quoted # not a comment"\nB=again\n\nC=\n')).toEqual([
      ['B', 'again'],
      ['A', 'quoted # not a comment'],
      ['C', ''],
    ]);
    expect(parseDotenv('no assignments here')).toEqual([]);
  });

  it('should read back exactly what toDotenv wrote', () => {
    const values = new Map([
      ['MULTI', 'line 1\nline 2'],
      ['QUOTES', `it's "quoted"`],
      ['SPACES', '  padded  '],
      ['HASH', 'a#b'],
    ]);
    expect(new Map(parseDotenv(toDotenv(values)))).toEqual(values);
  });
});
