/**
 * What a version's plaintext holds. A value is stored as its bare UTF-8 string, as it always was,
 * unless it holds `${`: then it is a template (secret references, references.ts), stored as a NUL
 * character followed by JSON. No value can start with NUL (secret-key.ts refuses NUL in values), so
 * the two forms never collide, and every version written before references existed reads back as
 * the literal string it was: a `${HOME}` stored in 0.1 is never resolved.
 *
 * The marker and what it says sit inside the ciphertext, so the server's database learns nothing
 * from them and cannot flip them (the AEAD covers them).
 */

import type { StructuredType, TypedValue } from './typed-secrets.js';

const MARK = '\0';

/**
 * Who may be referenced: `tree` (a value written by an owner: any project and environment of the
 * root tree) or `scope` (a value written with a service token: only the project and environment
 * being pulled, which the puller reads anyway). See references.ts.
 */
export type ReferenceReach = 'tree' | 'scope';

export interface StoredValue {
  /** The value as written: what history, the UI editor and `secret get --raw` show (a typed one's JSON). */
  readonly value: string;
  /** Set when the value holds references to resolve at pull time. */
  readonly references?: ReferenceReach | undefined;
  /** Set for a typed secret (typed-secrets.ts): its type and fields. */
  readonly typed?: TypedValue | undefined;
}

interface Envelope {
  v?: string;
  r?: ReferenceReach;
  /** A typed secret's type and fields (no `v`, never references). */
  t?: StructuredType;
  f?: Record<string, string>;
}

/** The plaintext of a typed secret: its type and fields, in the envelope. */
export function encodeTypedValue(typed: TypedValue): string {
  return MARK + JSON.stringify({ t: typed.type, f: typed.fields } satisfies Envelope);
}

/** The text a typed value shows where one string is expected (history, diffs, the editor): its JSON. */
export const typedText = (typed: TypedValue): string => JSON.stringify({ type: typed.type, ...typed.fields }, null, 2);

/**
 * The plaintext to encrypt for `value`, written by `actor` (an audit actor name): owners (`user:`,
 * `cli:`) write templates that may reach the whole tree, anyone else templates limited to the scope.
 */
export function encodeStoredValue(value: string, actorName: string): string {
  if (!value.includes('${')) return value;
  const reach: ReferenceReach = /^(user|cli):/.test(actorName) ? 'tree' : 'scope';
  return MARK + JSON.stringify({ v: value, r: reach } satisfies Envelope);
}

export function decodeStoredValue(plaintext: string): StoredValue {
  if (!plaintext.startsWith(MARK)) return { value: plaintext };
  const envelope = JSON.parse(plaintext.slice(MARK.length)) as Envelope;
  if (envelope.t !== undefined && envelope.f !== undefined) {
    const typed: TypedValue = { type: envelope.t, fields: envelope.f };
    return { value: typedText(typed), typed };
  }
  if (typeof envelope.v !== 'string') throw new Error('a stored value envelope without a value');
  return { value: envelope.v, references: envelope.r === 'tree' ? 'tree' : envelope.r && 'scope' };
}
