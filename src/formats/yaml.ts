import { Document, isScalar, parse, type Scalar } from 'yaml';
import { Unwritable } from './unwritable.js';

/*
 * A flat YAML mapping of strings, written by the `yaml` package and read back with its parser
 * (YAML 1.2, core schema) before anything is printed. Every value stays a string: the package
 * quotes any that would read as another type ('true', '0123', 'null', '~', '1e3'…). Keys and values
 * that a YAML 1.1 reader (PyYAML, Go's yaml.v2…) would take for something else ('yes', 'on', 'y',
 * '1:20', '2001-12-14'…) are double-quoted too, and the whole document is checked with both.
 */

const FORMAT = 'yaml';

/** How a YAML 1.1 reader takes the scalar the 1.2 writer would print plain. */
function misreadBy11(text: string): boolean {
  const written = new Document(text).toString();
  try {
    return parse(written, { version: '1.1' }) !== text;
  } catch {
    return true;
  }
}

function misread(text: string, expected: ReadonlyMap<string, string>): string | undefined {
  for (const version of ['1.2', '1.1'] as const) {
    const parsed = parse(text, { version }) as unknown;
    const record = (parsed ?? {}) as Record<string, unknown>;
    if (typeof record !== 'object' || Array.isArray(record)) return [...expected.keys()][0];
    const culprit = [...expected].find(([key, value]) => !Object.hasOwn(record, key) || record[key] !== value)?.[0];
    if (culprit !== undefined) return culprit;
    if (Object.keys(record).length !== expected.size) return [...expected.keys()][0];
  }
  return undefined;
}

export function toYaml(secrets: ReadonlyMap<string, string>): string {
  if (secrets.size === 0) return '{}\n';
  const document = new Document(Object.fromEntries(secrets));
  const contents = document.contents as { items: { key: unknown; value: unknown }[] };
  for (const pair of contents.items) {
    for (const node of [pair.key, pair.value]) {
      if (isScalar(node) && typeof node.value === 'string' && misreadBy11(node.value))
        (node as Scalar).type = 'QUOTE_DOUBLE';
    }
  }
  const text = document.toString({ lineWidth: 0 });
  const culprit = misread(text, secrets);
  if (culprit !== undefined) throw new Unwritable(FORMAT, culprit, 'the yaml parser reads it back differently');
  return text;
}
