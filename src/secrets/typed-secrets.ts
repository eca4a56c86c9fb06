import { AppError } from '../errors.js';

/**
 * Typed secrets (README, "Secret types"): a value that is more than one string. The type and every
 * field are encrypted together as one version (stored-value.ts); what is kept in plaintext beside
 * it is the type and, for a certificate, what any TLS handshake shows anyway (subject, issuer,
 * SANs, validity): docs/crypto.md, "Typed secrets". The checks at write are in typed-validation.ts,
 * which loads X509 and sshpk: kept apart, so that a client's `run` does not pay for them.
 */

export const SECRET_TYPES = ['generic', 'credential', 'ssh_key', 'api_key', 'certificate'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];
export type StructuredType = Exclude<SecretType, 'generic'>;

export interface TypedValue {
  readonly type: StructuredType;
  readonly fields: Readonly<Record<string, string>>;
}

/** Each type's fields, required first; and how each one is named when expanded into variables. */
const SHAPES: Record<
  StructuredType,
  { readonly required: readonly string[]; readonly optional: readonly string[]; readonly env: Record<string, string> }
> = {
  credential: {
    required: ['username', 'password'],
    optional: [],
    env: { username: '_USERNAME', password: '_PASSWORD' },
  },
  ssh_key: {
    required: ['private_key'],
    optional: ['username', 'passphrase'],
    env: { private_key: '_PRIVATE_KEY', username: '_USERNAME', passphrase: '_PASSPHRASE' },
  },
  api_key: { required: ['value'], optional: ['header'], env: { value: '', header: '_HEADER' } },
  certificate: {
    required: ['certificate'],
    optional: ['private_key', 'ca_chain', 'passphrase'],
    env: { certificate: '_CERT', private_key: '_KEY', ca_chain: '_CA', passphrase: '_PASSPHRASE' },
  },
};

/** Fields that tools want as files (`run --files`): written 0600, exported as `<VAR>_FILE`. */
const FILE_FIELDS: Partial<Record<StructuredType, readonly string[]>> = {
  ssh_key: ['private_key'],
  certificate: ['certificate', 'private_key', 'ca_chain'],
};

export const isStructuredType = (type: string): type is StructuredType =>
  (SECRET_TYPES as readonly string[]).includes(type) && type !== 'generic';

export function fieldsOf(type: StructuredType): { required: readonly string[]; optional: readonly string[] } {
  return SHAPES[type];
}

/** The variables a typed secret expands into in env formats and `run` (`DB` credential → DB_USERNAME, DB_PASSWORD). */
export function expandTyped(key: string, typed: TypedValue): [string, string][] {
  const shape = SHAPES[typed.type];
  return Object.keys(shape.env)
    .filter((field) => typed.fields[field] !== undefined)
    .map((field) => [`${key}${shape.env[field]}`, typed.fields[field]!]);
}

/**
 * For `run --files`: each file field's variable name and its content. PEM text gets the final
 * newline a file of it has (a field read from a file lost it, and OpenSSH refuses a key without it).
 */
export function fileMaterial(key: string, typed: TypedValue): { variable: string; content: string }[] {
  const shape = SHAPES[typed.type];
  return (FILE_FIELDS[typed.type] ?? [])
    .filter((field) => typed.fields[field] !== undefined)
    .map((field) => {
      const text = typed.fields[field]!;
      const content = text.startsWith('-----BEGIN') && !text.endsWith('\n') ? `${text}\n` : text;
      return { variable: `${key}${shape.env[field]}`, content };
    });
}

/**
 * Every value as environment variables: plain values as they are, typed ones expanded. A name that
 * two keys would both set is refused by name (never one silently overwriting the other).
 */
export function expandAll(
  values: ReadonlyMap<string, { value: string; typed?: TypedValue | undefined }>,
): Map<string, string> {
  const out = new Map<string, string>();
  const from = new Map<string, string>();
  for (const [key, secret] of values) {
    const pairs: [string, string][] = secret.typed ? expandTyped(key, secret.typed) : [[key, secret.value]];
    for (const [name, value] of pairs) {
      const earlier = from.get(name);
      if (earlier !== undefined) {
        throw new AppError(
          'not_representable',
          `${name} would be set by both ${earlier} and ${key}${secret.typed ? ` (a ${secret.typed.type})` : ''}: rename one of them`,
        );
      }
      from.set(name, key);
      out.set(name, value);
    }
  }
  return out;
}

/** The JSON form of a typed value: `{ "type": …, <field>: … }`. */
export const typedJson = (typed: TypedValue): Record<string, string> => ({ type: typed.type, ...typed.fields });
