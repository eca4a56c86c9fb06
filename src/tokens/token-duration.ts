import { InvalidRequest } from '../errors.js';

/** `30m`, `12h`, `7d` (also `s`) → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'] : 0;
  if (seconds <= 0 || seconds > 10 * 365 * 86400) {
    throw new InvalidRequest(
      `invalid duration "${text.slice(0, 20)}": use a number and s, m, h or d, e.g. 30m, 12h, 7d`,
    );
  }
  return seconds;
}
