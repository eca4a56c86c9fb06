import { parse } from 'dotenv';
import { DOTENV_DROPS_KEY, NUL_REASON, Unwritable } from './unwritable.js';

/*
 * `export KEY=…` lines read the same by two readers: the `dotenv` package (18.x) and `.`/`eval` in a
 * POSIX sh. Each line is one of two quotings, both exact in sh by construction and then checked with
 * the dotenv parser:
 *   'value'  when the value holds no single quote (sh takes everything between single quotes as is;
 *            dotenv too, newlines included);
 *   "value"  when it holds a single quote but nothing sh treats specially between double quotes:
 *            no `"`, `$` or backquote, and no backslash before `$`, backquote, `"`, `\`, a newline,
 *            or the closing quote. (dotenv's own `\n`/`\r` escapes are caught by the parser check.)
 * A value neither quoting carries is refused; so is one with a carriage return (dotenv turns a
 * written one into a newline, and sh does not read dotenv's `\r` escape) or a NUL.
 */

const FORMAT = 'dotenv-export';

/** Exact in sh between double quotes: nothing there is special. */
function plainInDoubleQuotes(value: string): boolean {
  if (/["$`]/.test(value)) return false;
  for (let i = value.indexOf('\\'); i !== -1; i = value.indexOf('\\', i + 1)) {
    const next = value[i + 1];
    if (next === undefined || '$`"\\\n'.includes(next)) return false;
  }
  return true;
}

const dotenvReads = (text: string, expected: ReadonlyMap<string, string>): Record<string, string> | undefined => {
  const parsed = parse(text);
  const exact =
    Object.keys(parsed).length === expected.size &&
    [...expected].every(([key, value]) => Object.hasOwn(parsed, key) && parsed[key] === value);
  return exact ? undefined : parsed;
};

function line(key: string, value: string): string {
  const dropped = DOTENV_DROPS_KEY(key);
  if (dropped) throw new Unwritable(FORMAT, key, dropped);
  if (value.includes('\0')) throw new Unwritable(FORMAT, key, NUL_REASON);
  if (value.includes('\r'))
    throw new Unwritable(
      FORMAT,
      key,
      "it holds a carriage return: dotenv reads a written one as a newline, and sh does not read dotenv's \\r escape",
    );
  let written: string;
  if (!value.includes("'")) written = `export ${key}='${value}'`;
  else if (plainInDoubleQuotes(value)) written = `export ${key}="${value}"`;
  else
    throw new Unwritable(
      FORMAT,
      key,
      'it holds a single quote together with ", $, ` or a backslash, and no quoting is read the same by dotenv and sh',
    );
  if (dotenvReads(written, new Map([[key, value]])))
    throw new Unwritable(FORMAT, key, 'the dotenv package does not read it back exactly in a quoting sh reads');
  return written;
}

/** `export KEY=…` lines that both the dotenv package and sh read back to exactly `secrets`. */
export function toDotenvExport(secrets: ReadonlyMap<string, string>): string {
  const lines = [...secrets].map(([key, value]) => line(key, value));
  const document = lines.length ? `${lines.join('\n')}\n` : '';
  const misread = dotenvReads(document, secrets);
  if (misread) {
    const culprit = [...secrets].find(([key, value]) => misread[key] !== value)?.[0] ?? [...secrets.keys()][0]!;
    throw new Unwritable(FORMAT, culprit, 'the dotenv package reads it differently next to the other lines');
  }
  return document;
}
