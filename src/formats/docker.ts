import { LONE_SURROGATE, NUL_REASON, Unwritable } from './unwritable.js';

/*
 * An env file for `docker run --env-file` (docker's kvfile parser): the file is read line by line
 * (bufio.Scanner: split at "\n", one trailing "\r" dropped, at most 64 KiB a line, UTF-8 only);
 * leading whitespace of a line is trimmed; empty lines and lines starting with `#` are skipped;
 * otherwise the line is cut at its first `=` and everything after it is the value, as is: no quotes,
 * no escapes, no comments, trailing whitespace kept. Key names (letters, digits, `_`) are always
 * fine, so a value is refused only when it holds a newline, ends with a carriage return, holds a NUL
 * (no environment variable can), is not Unicode text, or makes its line longer than docker reads.
 */

const FORMAT = 'docker';
/** bufio.MaxScanTokenSize: a line and its "\n" must fit in docker's 64 KiB buffer. */
const MAX_LINE_BYTES = 64 * 1024 - 1;

function reason(key: string, value: string): string | undefined {
  if (value.includes('\0')) return NUL_REASON;
  if (value.includes('\n')) return 'it holds a newline, which ends the line: a docker env file has no quoting';
  if (value.endsWith('\r')) return 'it ends with a carriage return, which docker drops as part of a CRLF line end';
  if (LONE_SURROGATE.test(value)) return 'it is not valid Unicode text, and docker reads only UTF-8';
  if (Buffer.byteLength(`${key}=${value}`) > MAX_LINE_BYTES)
    return `its line is longer than the ${MAX_LINE_BYTES} bytes docker reads in one line`;
  return undefined;
}

export function toDockerEnvFile(secrets: ReadonlyMap<string, string>): string {
  let document = '';
  for (const [key, value] of secrets) {
    const why = reason(key, value);
    if (why) throw new Unwritable(FORMAT, key, why);
    document += `${key}=${value}\n`;
  }
  return document;
}
