import { Unwritable } from './unwritable.js';

/**
 * `export KEY='…'` lines that `eval` in any POSIX sh restores exactly: inside single quotes nothing
 * is special, and a single quote is written as '\''. Only NUL cannot live in a shell variable.
 */
export function toShell(secrets: ReadonlyMap<string, string>): string {
  let out = '';
  for (const [key, value] of secrets) {
    if (value.includes('\0'))
      throw new Unwritable('shell', key, 'it holds a NUL character, which no shell variable can hold');
    out += `export ${key}='${value.replace(/'/g, `'\\''`)}'\n`;
  }
  return out;
}
