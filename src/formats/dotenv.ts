import { parse } from 'dotenv';
import { DOTENV_DROPS_KEY, Unwritable } from './unwritable.js';

/**
 * KEY=value lines as the `dotenv` package (18.x, the reference parser) reads them, in file order
 * (a repeated key keeps its last value, as dotenv does).
 */
export function parseDotenv(content: string): [key: string, value: string][] {
  return Object.entries(parse(content));
}

const escapeDoubleQuoted = (value: string) => value.replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/** Ways to write a value, simplest first; the first one the reference parser reads back exactly wins. */
function candidates(key: string, value: string): string[] {
  return [
    `${key}=${value}`,
    `${key}='${value}'`,
    `${key}="${escapeDoubleQuoted(value)}"`,
    `${key}=\`${value}\``,
    `${key}="${value}"`,
  ];
}

const readsBack = (text: string, expected: Readonly<Record<string, string>>): boolean => {
  const parsed = parse(text);
  const keys = Object.keys(expected);
  return Object.keys(parsed).length === keys.length && keys.every((key) => parsed[key] === expected[key]);
};

/**
 * A dotenv document that the `dotenv` package (the reference parser) reads back to exactly `secrets`.
 * Every line is checked with that parser, and so is the whole document: a value it cannot carry
 * exactly (say a newline plus all three quote characters) is a NotRepresentable error naming the key,
 * never a silently altered value.
 */
export function toDotenv(secrets: ReadonlyMap<string, string>): string {
  const lines: string[] = [];
  for (const [key, value] of secrets) {
    const dropped = DOTENV_DROPS_KEY(key);
    if (dropped) throw new Unwritable('dotenv', key, dropped);
    const line = candidates(key, value).find((candidate) => readsBack(candidate, { [key]: value }));
    if (line === undefined)
      throw new Unwritable(
        'dotenv',
        key,
        'no quoting the dotenv package reads back exactly can carry it (a newline with all three quote characters, say)',
      );
    lines.push(line);
  }
  const document = lines.length ? `${lines.join('\n')}\n` : '';
  const expected = Object.fromEntries(secrets);
  if (!readsBack(document, expected)) {
    const parsed = parse(document);
    const culprit = [...secrets].find(([key, value]) => parsed[key] !== value)?.[0] ?? [...secrets.keys()][0]!;
    throw new Unwritable('dotenv', culprit, 'the dotenv package reads it differently next to the other lines');
  }
  return document;
}
