import { execFileSync } from 'node:child_process';
import { parse as parseDotenv } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PULL_FORMATS, renderValues, type PullFormat } from '../../cli/render.js';
import { CliError } from '../../cli/io.js';

/**
 * Every `pull` format against its reference reader: each tricky value alone is either read back
 * exactly or refused with one line naming its key, and all the accepted ones together read back
 * exactly as one document.
 */

const TRICKY: Record<string, string> = {
  PLAIN: 'simple',
  EMPTY: '',
  NEWLINE: 'line one\nline two',
  TRAILING_NEWLINE: 'ends with a newline\n',
  CRLF: 'windows\r\nline',
  TRAILING_CR: 'ends with cr\r',
  DOUBLE_QUOTES: 'say "hello"',
  SINGLE_QUOTES: "it's here",
  BOTH_QUOTES: `it's "both"`,
  BACKTICK: 'run `cmd`',
  ALL_QUOTES: `'single' "double" \`back\``,
  QUOTED_WHOLE: '"wrapped"',
  SINGLE_QUOTED_WHOLE: "'wrapped'",
  HASH: 'value # not a comment',
  LEADING_HASH: '#starts-with-hash',
  EQUALS: 'a=b=c',
  LEADING_EQUALS: '=x',
  DOLLAR: '$HOME and ${PATH} and $(whoami)',
  QUOTE_AND_DOLLAR: "it's $HOME",
  BACKSLASHES: 'C:\\path\\to\\n\\file \\\\ end',
  TRAILING_BACKSLASH: 'ends with \\',
  QUOTE_AND_BACKSLASH_N: "it's a \\n",
  SPACES: '  surrounded by spaces  ',
  INNER_SPACES: 'a  b',
  TABS: '\tindented\t',
  UNICODE: 'ünïcødé 日本語 🔐',
  BOM: '\ufeffbom',
  LINE_SEPARATOR: 'a\u2028b',
  PEM: '-----BEGIN KEY-----\nMIIB\'"`\n-----END KEY-----\n',
  JSON_VALUE: '{"a": [1, "two"], "b": null}',
  SEMICOLON: 'a; rm -rf / #',
  TRUE: 'true',
  YES: 'yes',
  ON: 'on',
  LEADING_ZERO: '0123',
  NUMBER: '1e3',
  NULL: 'null',
  TILDE: '~',
  DASH: '- item',
  COLON: 'key: value',
  BRACES: '{not: a map}',
  // Computed, so that it is a key of its own and not the object's prototype.
  ['__proto__']: 'polluted?',
};
const TRICKY_MAP = new Map(Object.entries(TRICKY));

/** A reader per format: the text back to the map it stands for. */

function sourcedBySh(text: string, keys: string[]): Map<string, string> {
  // Each value NUL-terminated: printf, never echo (which may interpret backslashes).
  const script = `eval "$(cat)"\n${keys.map((key) => `printf '%s\\0' "$${key}"`).join('\n')}`;
  const out = execFileSync('sh', ['-c', script], { input: text, encoding: 'utf8' });
  const values = out.split('\0').slice(0, -1);
  return new Map(keys.map((key, i) => [key, values[i]!]));
}

const ownEntries = (record: Record<string, unknown>) => new Map(Object.entries(record));

/**
 * `docker run --env-file`, after docker's kvfile parser: lines split at "\n" (bufio.ScanLines, which
 * also drops one "\r" before it), leading Unicode whitespace trimmed, empty and `#` lines skipped,
 * the rest cut at the first `=`; the value is taken as is. A line over 64 KiB is an error.
 */
function readDockerEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const raw of lines) {
    if (Buffer.byteLength(raw) >= 64 * 1024) throw new Error('bufio.Scanner: token too long');
    const line = raw.replace(/\r$/, '').replace(/^\s+/u, '');
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    const key = at === -1 ? line : line.slice(0, at);
    if (key === '' || /[ \t]/.test(key)) throw new Error(`bad variable name on line ${line}`);
    if (at !== -1) values.set(key, line.slice(at + 1));
  }
  return values;
}

const READERS: Record<PullFormat, (text: string, keys: string[]) => Map<string, unknown>[]> = {
  json: (text) => [ownEntries(JSON.parse(text))],
  dotenv: (text) => [ownEntries(parseDotenv(text))],
  // Both readers must agree with the map.
  'dotenv-export': (text, keys) => [ownEntries(parseDotenv(text)), sourcedBySh(text, keys)],
  'env-no-quotes': (text) => [ownEntries(parseDotenv(text))],
  docker: (text) => [readDockerEnvFile(text)],
  yaml: (text) => [ownEntries(parseYaml(text)), ownEntries(parseYaml(text, { version: '1.1' }))],
  shell: (text, keys) => [sourcedBySh(text, keys)],
};

/** Keys each format refuses among TRICKY; everything else must round-trip. */
const REFUSED: Record<PullFormat, string[]> = {
  json: [],
  dotenv: ['__proto__'],
  'dotenv-export': [
    'CRLF',
    'TRAILING_CR',
    'BOTH_QUOTES',
    'QUOTE_AND_DOLLAR',
    'QUOTE_AND_BACKSLASH_N',
    'PEM',
    'ALL_QUOTES',
    '__proto__',
  ],
  'env-no-quotes': [
    'NEWLINE',
    'TRAILING_NEWLINE',
    'CRLF',
    'TRAILING_CR',
    'ALL_QUOTES',
    'QUOTED_WHOLE',
    'SINGLE_QUOTED_WHOLE',
    'HASH',
    'LEADING_HASH',
    'SPACES',
    'TABS',
    'BOM',
    'PEM',
    'SEMICOLON',
    '__proto__',
  ],
  docker: ['NEWLINE', 'TRAILING_NEWLINE', 'CRLF', 'TRAILING_CR', 'PEM'],
  yaml: [],
  shell: [],
};

function refusal(values: Map<string, string>, format: PullFormat): CliError | undefined {
  try {
    renderValues(values, format);
    return undefined;
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
}

describe.each(PULL_FORMATS)('pull --format %s', (format) => {
  it('should read each value back exactly, or refuse it naming its key', () => {
    const refused: string[] = [];
    for (const [key, value] of TRICKY_MAP) {
      const one = new Map([[key, value]]);
      const error = refusal(one, format);
      if (error) {
        refused.push(key);
        expect(error.message).toMatch(new RegExp(`^${key} cannot be written as ${format}: [^\\n]+$`));
        expect(error.message).not.toContain(value || '\0');
        continue;
      }
      for (const read of READERS[format](renderValues(one, format), [key])) expect(read, key).toEqual(one);
    }
    expect(refused.sort()).toEqual([...REFUSED[format]].sort());
  });

  it('should read all the values it accepts back exactly as one document', () => {
    const accepted = new Map([...TRICKY_MAP].filter(([key]) => !REFUSED[format].includes(key)));
    const text = renderValues(accepted, format);
    for (const read of READERS[format](text, [...accepted.keys()])) expect(read).toEqual(accepted);
    expect(renderValues(accepted, format)).toBe(text);
  });

  it('should write nothing surprising for no values at all', () => {
    const text = renderValues(new Map(), format);
    for (const read of READERS[format](text, [])) expect(read).toEqual(new Map());
  });
});

describe('the formats that cannot carry a value', () => {
  it('should refuse a NUL wherever a variable or a line must hold it', () => {
    const nul = new Map([['NUL', 'a\0b']]);
    for (const format of ['dotenv-export', 'env-no-quotes', 'docker', 'shell'] as const)
      expect(refusal(nul, format)?.message, format).toMatch(/^NUL cannot be written as [a-z-]+: it holds a NUL/);
    expect(JSON.parse(renderValues(nul, 'json'))).toEqual({ NUL: 'a\0b' });
    expect(parseYaml(renderValues(nul, 'yaml'))).toEqual({ NUL: 'a\0b' });
  });

  it('should say why, in one line', () => {
    const reason = (format: PullFormat, value: string) => refusal(new Map([['K', value]]), format)?.message;
    expect(reason('docker', 'a\nb')).toBe(
      'K cannot be written as docker: it holds a newline, which ends the line: a docker env file has no quoting',
    );
    expect(reason('env-no-quotes', ' x')).toBe(
      'K cannot be written as env-no-quotes: it starts or ends with whitespace, which dotenv trims from an unquoted value',
    );
    expect(reason('dotenv-export', `it's $HOME`)).toContain('no quoting is read the same by dotenv and sh');
    expect(reason('dotenv', 'has \\n escapes, a\nnewline and \' " ` all quotes')).toContain(
      'K cannot be written as dotenv: ',
    );
    expect(reason('docker', 'x'.repeat(64 * 1024))).toContain('longer than');
  });

  it('should keep values that merely look like other types as strings in YAML', () => {
    const text = renderValues(
      new Map([
        ['A', 'true'],
        ['B', '0123'],
        ['C', 'null'],
        ['D', '~'],
        ['E', 'yes'],
        ['on', 'x'],
      ]),
      'yaml',
    );
    expect(text).toBe('A: "true"\nB: "0123"\nC: "null"\nD: "~"\nE: "yes"\n"on": x\n');
  });

  it('should write docker lines taken literally, quotes, # and spaces included', () => {
    const values = new Map([
      ['A', ' "quoted" # not a comment '],
      ['B', "'x'"],
    ]);
    expect(renderValues(values, 'docker')).toBe('A= "quoted" # not a comment \nB=\'x\'\n');
  });
});
