/**
 * Lines of a dotenv file whose meaning, as the `dotenv` package reads them, is likely not what the
 * author meant. dotenv stays the parser; this only points at where it silently cuts, keeps or drops.
 * Pure, so the import command and the UI's bulk edit report the same lines.
 */
export interface DotenvWarning {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly key?: string;
  /** What happens and how to fix it; never the value itself. */
  readonly problem: string;
}

// dotenv 18's own line pattern (its parse() is built on it), with `d` for match indices.
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;
const ASSIGNMENT = /^\s*(?:export\s+)?[\w.-]+(?:\s*=|:\s)/;
const QUOTES = `'"\``;

export function findSurprisingDotenvLines(content: string): DotenvWarning[] {
  // dotenv reads CR and CRLF as LF before matching; so do we, which keeps offsets and lines aligned.
  const text = content.replace(/\r\n?/g, '\n');
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
  const lineText = (line: number) => text.slice(lineStarts[line - 1], (lineStarts[line] ?? text.length + 1) - 1);

  const warnings: DotenvWarning[] = [];
  const covered = new Set<number>();
  const firstSeen = new Map<string, number>();
  for (const match of text.matchAll(LINE)) {
    const key = match[1]!;
    const [keyStart, keyEnd] = match.indices![1]!;
    const line = lineOf(keyStart);
    const raw = match[2] ?? '';
    const valueEnd = match.indices![2]?.[1] ?? keyEnd;
    for (let l = line; l <= lineOf(Math.max(keyStart, valueEnd - 1)); l++) covered.add(l);
    const warn = (problem: string) => warnings.push({ line, key, problem });

    if (key === '__proto__') warn('the dotenv parser drops a key named __proto__: it cannot be imported');
    const earlier = firstSeen.get(key);
    if (earlier === undefined) firstSeen.set(key, line);
    else warn(`${key} is set again (first on line ${earlier}): only the last value is kept`);

    const value = raw.trim();
    const quote = QUOTES.includes(value[0] ?? '') ? value[0]! : undefined;
    const quoted = quote !== undefined && value.length >= 2 && value.endsWith(quote);
    if (quoted) {
      if (value.slice(1, -1).includes(`\\${quote}`)) {
        warn(`\\${quote} inside ${quote}…${quote} is kept with its backslash: dotenv does not unescape quotes`);
      }
      const lastLine = lineOf(valueEnd - 1);
      for (let l = line + 1; l <= lastLine; l++) {
        if (ASSIGNMENT.test(lineText(l))) {
          warn(`the ${quote} opened here closes only on line ${lastLine}, taking in line ${l} as part of the value`);
          break;
        }
      }
    } else {
      if (quote !== undefined) warn(`the opening ${quote} is never closed: it is kept as part of the value`);
      // The rest of the line after the separator, as the author typed it.
      const restStart = match.indices![2]?.[0] ?? separatorEnd(text, keyEnd);
      const hash = text.slice(restStart, lineStarts[line] ?? text.length).indexOf('#');
      // `KEY=a #note` is a comment as intended; `KEY=a#b` and `KEY=#a` lose what follows the #.
      if (hash !== -1 && !/\s/.test(text[restStart + hash - 1]!)) {
        warn('an unquoted # starts a comment, so the value is cut there: quote the value to keep the #');
      }
    }
  }

  for (let line = 1; line <= lineStarts.length; line++) {
    const body = lineText(line).trim();
    if (covered.has(line) || body === '' || body.startsWith('#')) continue;
    warnings.push({ line, problem: 'not a KEY=value line: dotenv ignores it' });
  }
  return warnings.sort((a, b) => a.line - b.line);
}

/** Where the value would start after `KEY=` (or `KEY: `) when dotenv found no value at all. */
function separatorEnd(text: string, keyEnd: number): number {
  const separator = /\s*=|:\s/y;
  separator.lastIndex = keyEnd;
  return separator.exec(text) ? separator.lastIndex : keyEnd;
}

/** One line per warning, for an error message or the CLI's stderr. */
export function describeDotenvWarning(warning: DotenvWarning): string {
  return `line ${warning.line}${warning.key ? ` (${warning.key})` : ''}: ${warning.problem}`;
}
