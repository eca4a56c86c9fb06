import { NotRepresentable } from '../errors.js';

/**
 * A value a format cannot carry exactly. Still a NotRepresentable (the server's `422
 * not_representable`, with the same message), and it also says which key and why, so the CLI can
 * print `KEY cannot be written as <format>: <reason>`. The reason never quotes the value.
 */
export class Unwritable extends NotRepresentable {
  constructor(
    readonly format: string,
    readonly key: string,
    readonly reason: string,
  ) {
    super(format, key);
  }
}

export const NUL_REASON = 'it holds a NUL character, which no environment variable can hold';

/** A lone UTF-16 surrogate: not Unicode text, so not encodable as UTF-8 exactly. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The `dotenv` parser assigns into a plain object: a key named __proto__ never comes back. */
export const DOTENV_DROPS_KEY = (key: string) =>
  key === '__proto__' ? 'the dotenv package drops a key named __proto__ when it reads one' : undefined;
