import type { LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * An unexpected error, safe to print: its class and the first line of its message, with anything in
 * quotes taken out (parsers and drivers quote the input they choke on, which could be a secret).
 */
export function errorSummary(error: unknown): { error: string; message: string } {
  const message = String(error instanceof Error ? error.message : error)
    .split('\n')[0]!
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '"…"')
    .slice(0, 300);
  return { error: error instanceof Error ? error.name : typeof error, message };
}

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * One line per entry: `time level message key=value …`. Callers pass only what is safe to print:
 * paths without query strings, ids, counts. Secrets, master keys and tokens are never given to it.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const at =
    (entryLevel: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      if (ORDER[entryLevel] < ORDER[level]) return;
      const rest = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
        .join(' ');
      write(`${new Date().toISOString()} ${entryLevel} ${message}${rest ? ` ${rest}` : ''}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
