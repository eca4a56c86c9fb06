import { parse } from 'dotenv';
import { DOTENV_DROPS_KEY, NUL_REASON, Unwritable } from './unwritable.js';

/*
 * `KEY=value` lines, the value written raw: no quotes, no escapes. The rule, so that the `dotenv`
 * package (18.x) reads every line back exactly, is to refuse a value that
 *   - holds a NUL, a newline or a carriage return (a line cannot carry them);
 *   - starts or ends with whitespace (dotenv trims an unquoted value);
 *   - holds a `#` (dotenv starts a comment there);
 *   - starts with a quote character `'`, `"` or a backquote (dotenv may take it as quoting);
 * and, in case dotenv still reads something else, every line and the whole document are read back
 * with the parser before anything is printed.
 */

const FORMAT = 'env-no-quotes';

function reason(value: string): string | undefined {
  if (value.includes('\0')) return NUL_REASON;
  if (/[\r\n]/.test(value)) return 'it holds a line break, which an unquoted KEY=value line cannot carry';
  if (value !== value.trim()) return 'it starts or ends with whitespace, which dotenv trims from an unquoted value';
  if (value.includes('#')) return 'it holds a #, where dotenv starts a comment in an unquoted value';
  if (/^['"`]/.test(value)) return 'it starts with a quote character, which dotenv may read as quoting';
  if (parse(`K=${value}`).K !== value) return 'the dotenv package reads it differently unquoted';
  return undefined;
}

export function toEnvNoQuotes(secrets: ReadonlyMap<string, string>): string {
  let document = '';
  for (const [key, value] of secrets) {
    const why = DOTENV_DROPS_KEY(key) ?? reason(value);
    if (why) throw new Unwritable(FORMAT, key, why);
    document += `${key}=${value}\n`;
  }
  const parsed = parse(document);
  const culprit = [...secrets].find(([key, value]) => !Object.hasOwn(parsed, key) || parsed[key] !== value)?.[0];
  if (culprit !== undefined || Object.keys(parsed).length !== secrets.size)
    throw new Unwritable(
      FORMAT,
      culprit ?? [...secrets.keys()][0]!,
      'the dotenv package reads it differently next to the other lines',
    );
  return document;
}
