import { NotRepresentable } from '../errors.js';

/**
 * `export KEY='…'` lines that `eval` in any POSIX sh restores exactly: inside single quotes nothing
 * is special, and a single quote is written as '\''. Only NUL cannot live in a shell variable.
 */
export function toShell(secrets: ReadonlyMap<string, string>): string {
  let out = '';
  for (const [key, value] of secrets) {
    if (value.includes('\0')) throw new NotRepresentable('shell', key);
    out += `export ${key}='${value.replace(/'/g, `'\\''`)}'\n`;
  }
  return out;
}
