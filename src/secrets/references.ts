import { AppError } from '../errors.js';
import type { ReferenceReach } from './stored-value.js';

/**
 * Secret references: a value may hold `${KEY}` (the same project and environment, after
 * inheritance), `${env.KEY}` (the same project in another environment) or `${project.env.KEY}` (any
 * project of the same root tree); `$${` writes a literal `${`. They are resolved at pull time, on
 * the server for classic and keyed pulls and in the CLI for zero-knowledge ones, by this one module.
 *
 * Reach (who may be referenced; the rule is in docs/crypto.md, "Secret references"):
 * - a value written by an owner (UI, server-side CLI) may reach the whole root tree;
 * - a value written with a service token may reach only the project and environment being pulled,
 *   which whoever pulls reads anyway: a write token cannot copy a sibling's secret into its scope;
 * - a keyed token's pull resolves only within its own project and environment, on the server as in
 *   the zero-knowledge pull, whose client holds nothing else.
 */

export interface ReferenceScope {
  readonly project: string;
  readonly environment: string;
}

export interface Reference {
  /** As written, e.g. `${prod.DB_HOST}`. */
  readonly text: string;
  readonly project?: string | undefined;
  readonly environment?: string | undefined;
  readonly key: string;
}

export type TemplatePart = string | Reference;

/** A value that cannot be resolved: a missing target, a cycle, or a target out of reach. Names keys, never values. */
export class UnresolvableReference extends AppError {
  constructor(message: string) {
    super('unresolvable_reference', message);
  }
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const PROJECT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENVIRONMENT = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * The parts of a template, in order: literal text and references. Throws an Error whose message
 * says what is wrong (for the writer's 400) when a `${` is not a well-formed reference.
 */
export function parseTemplate(value: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < value.length) {
    if (value.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (value.startsWith('${', i)) {
      const end = value.indexOf('}', i + 2);
      if (end === -1)
        // Positions, never the text: this message may reach a log, a flash message or an answer.
        throw new Error(`the \${ at character ${i + 1} is not closed by "}" (write $\${ for a literal \${)`);
      const text = value.slice(i, end + 1);
      const names = value.slice(i + 2, end).split('.');
      const key = names.pop()!;
      const [project, environment] = names.length === 2 ? names : [undefined, names[0]];
      if (
        names.length > 2 ||
        !KEY.test(key) ||
        (environment !== undefined && !ENVIRONMENT.test(environment)) ||
        (project !== undefined && !PROJECT.test(project))
      ) {
        throw new Error(
          `the \${…} at character ${i + 1} is not a reference: write \${KEY}, \${env.KEY} or \${project.env.KEY} (or $\${ for a literal \${)`,
        );
      }
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ text, project, environment, key });
      i = end + 1;
    } else {
      literal += value[i];
      i += 1;
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

/** What the resolver reads of a stored value (stored-value.ts). */
export interface ReferenceSource {
  readonly value: string;
  readonly references?: ReferenceReach | undefined;
}

/**
 * The resolved values of another scope of the same tree, keyed by KEY; throws UnresolvableReference
 * (saying why) when the caller cannot read it.
 */
export type LoadScope = (scope: ReferenceScope) => Promise<ReadonlyMap<string, ReferenceSource>>;

/**
 * Bounds on one resolution, so that a writer cannot turn a few small values into a huge answer or a
 * long stall: `${L0}` written 10,000 times, each L0 a 60 KB value, is 600 MB from two writes, and
 * a chain of thousands of keys each referencing the next costs time quadratic in its length. A
 * pull that would pass one of them fails as any unresolvable one does (422, naming the key).
 */
export const REFERENCE_LIMITS = Object.freeze({
  /** Characters of one resolved value. */
  valueChars: 1024 * 1024,
  /** Characters produced by all the templates of one resolution together. */
  totalChars: 16 * 1024 * 1024,
  /** References followed in one resolution (each `${…}` met, resolved before or not). */
  references: 100_000,
  /** References nested inside one another. */
  depth: 32,
});

const sameScope = (a: ReferenceScope, b: ReferenceScope) => a.project === b.project && a.environment === b.environment;

/**
 * Every value of `scope` with its references resolved (a value without any is returned as it is).
 * `keyed`: the pull is a keyed token's, which reaches only `scope`; `only`: these keys alone. Nested references resolve in the
 * scope of the value that holds them. UnresolvableReference names the key, the reference and why.
 */
export async function resolveReferences(
  scope: ReferenceScope,
  values: ReadonlyMap<string, ReferenceSource>,
  options: { keyed: boolean; load: LoadScope; only?: readonly string[] },
): Promise<Map<string, string>> {
  if (![...values.values()].some((source) => source.references)) {
    return new Map([...values].map(([key, source]) => [key, source.value]));
  }
  const scopes = new Map<string, Promise<ReadonlyMap<string, ReferenceSource>>>([
    [`${scope.project}/${scope.environment}`, Promise.resolve(values)],
  ]);
  const valuesOf = (target: ReferenceScope) => {
    const id = `${target.project}/${target.environment}`;
    let found = scopes.get(id);
    if (!found) scopes.set(id, (found = options.load(target)));
    return found;
  };
  const done = new Map<string, string>();
  let produced = 0;
  let followed = 0;
  const name = (at: ReferenceScope, key: string) =>
    sameScope(at, scope) ? key : `${at.project}.${at.environment}.${key}`;

  async function resolveOne(
    at: ReferenceScope,
    key: string,
    source: ReferenceSource,
    trail: string[],
  ): Promise<string> {
    const id = name(at, key);
    const known = done.get(id);
    if (known !== undefined) return known;
    if (!source.references) return source.value;
    if (trail.includes(id)) throw new UnresolvableReference(`a reference cycle: ${[...trail, id].join(' → ')}`);
    if (trail.length >= REFERENCE_LIMITS.depth) {
      throw new UnresolvableReference(
        `${trail[0]} nests references more than ${REFERENCE_LIMITS.depth} deep (at ${id})`,
      );
    }
    let out = '';
    const append = (text: string) => {
      out += text;
      produced += text.length;
      if (out.length > REFERENCE_LIMITS.valueChars) {
        throw new UnresolvableReference(`${id} resolves to more than ${REFERENCE_LIMITS.valueChars} characters`);
      }
      if (produced > REFERENCE_LIMITS.totalChars) {
        throw new UnresolvableReference(
          `the references of this scope resolve to more than ${REFERENCE_LIMITS.totalChars} characters (at ${id})`,
        );
      }
    };
    for (const part of parseStored(source.value, id)) {
      if (typeof part === 'string') {
        append(part);
        continue;
      }
      if (++followed > REFERENCE_LIMITS.references) {
        throw new UnresolvableReference(
          `this scope's values hold more than ${REFERENCE_LIMITS.references} references (at ${id})`,
        );
      }
      const target = { project: part.project ?? at.project, environment: part.environment ?? at.environment };
      if ((options.keyed || source.references === 'scope') && !sameScope(target, at)) {
        throw new UnresolvableReference(
          options.keyed
            ? `${id} references ${part.text}, outside ${at.project}/${at.environment}: a keyed token resolves references only within its own project and environment (pull with the master key, or reference a key of this scope)`
            : `${id} references ${part.text}, outside ${at.project}/${at.environment}: it was written with a service token, whose references stay within the project and environment pulled (an owner can write it in the UI or with the server-side CLI)`,
        );
      }
      const targetValues = await valuesOf(target);
      const targetSource = targetValues.get(part.key);
      if (!targetSource) {
        throw new UnresolvableReference(
          `${id} references ${part.text}, but ${part.key} does not exist in ${target.project}/${target.environment} (write $\${ for a literal \${)`,
        );
      }
      append(await resolveOne(target, part.key, targetSource, [...trail, id]));
    }
    done.set(id, out);
    return out;
  }

  const resolved = new Map<string, string>();
  for (const [key, source] of values) {
    if (!options.only || options.only.includes(key)) resolved.set(key, await resolveOne(scope, key, source, []));
  }
  return resolved;
}

/** A stored template's parts; one written before a parser change and now unreadable is reported by name. */
function parseStored(value: string, id: string): TemplatePart[] {
  try {
    return parseTemplate(value);
  } catch (error) {
    throw new UnresolvableReference(`${id}: ${(error as Error).message}`);
  }
}
