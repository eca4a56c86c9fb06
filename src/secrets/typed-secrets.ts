import { createPrivateKey, X509Certificate } from 'node:crypto';
import sshpk from 'sshpk';
import { AppError, InvalidRequest } from '../errors.js';

/**
 * Typed secrets (README, "Secret types"): a value that is more than one string. The type and every
 * field are encrypted together as one version (stored-value.ts); what is kept in plaintext beside
 * it is the type and, for a certificate, what any TLS handshake shows anyway (subject, issuer,
 * SANs, validity): docs/crypto.md, "Typed secrets".
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

/** What a certificate shows anyone it is presented to: kept in plaintext for lists and `expiring`. */
export interface CertificateMetadata {
  readonly subject: string;
  readonly issuer: string;
  readonly sans: string | null;
  readonly not_before: string;
  readonly not_after: string;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function refuse(key: string, field: string, why: string): never {
  throw new InvalidRequest(`${key}: the field "${field}" ${why}`);
}

function parseCertificate(key: string, field: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    return refuse(key, field, 'is not a PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
}

/** A private key in PEM (node:crypto) or OpenSSH format (sshpk), opened with its passphrase if it has one. */
function checkPrivateKey(key: string, field: string, text: string, passphrase: string | undefined) {
  if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) {
    try {
      sshpk.parsePrivateKey(text, 'ssh', passphrase === undefined ? {} : { passphrase });
      return undefined;
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'KeyEncryptedError') refuse(key, field, 'is encrypted: give its passphrase');
      if (passphrase !== undefined && /passphrase|decrypt|bcrypt/i.test((error as Error).message))
        refuse(key, 'passphrase', 'does not open the private key');
      return refuse(key, field, 'is not an OpenSSH private key that sshpk can read');
    }
  }
  try {
    return createPrivateKey(passphrase === undefined ? { key: text } : { key: text, passphrase });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (/PASSPHRASE|BAD_DECRYPT/.test(code) || /passphrase|bad decrypt/i.test((error as Error).message)) {
      return passphrase === undefined
        ? refuse(key, field, 'is encrypted: give its passphrase')
        : refuse(key, 'passphrase', 'does not open the private key');
    }
    return refuse(key, field, 'is not a private key in PEM (or OpenSSH) format');
  }
}

/**
 * Checks a typed value before it is written: known fields only, the required ones present and
 * non-empty, a certificate that parses and a private key that opens and matches it, a CA chain of
 * certificates, an SSH key that parses. A 400 names the key and the field, never a value.
 * Returns the certificate's public metadata, if it is one.
 */
export function validateTyped(key: string, typed: TypedValue): CertificateMetadata | undefined {
  const shape = SHAPES[typed.type];
  if (!shape) throw new InvalidRequest(`${key}: the type must be one of ${SECRET_TYPES.join(', ')}`);
  for (const [field, value] of Object.entries(typed.fields)) {
    if (!shape.required.includes(field) && !shape.optional.includes(field)) {
      refuse(key, field, `is not a field of ${typed.type} (${[...shape.required, ...shape.optional].join(', ')})`);
    }
    if (typeof value !== 'string') refuse(key, field, 'must be a string');
    if (value.includes('\0')) refuse(key, field, 'holds a NUL character');
  }
  for (const field of shape.required) {
    if (!typed.fields[field]) refuse(key, field, `is required for a ${typed.type}`);
  }
  const { fields } = typed;
  const passphrase = fields.passphrase || undefined;
  switch (typed.type) {
    case 'api_key':
      if (fields.header !== undefined && !HEADER_NAME.test(fields.header))
        refuse(key, 'header', 'is not an HTTP header name');
      return undefined;
    case 'ssh_key':
      checkPrivateKey(key, 'private_key', fields.private_key!, passphrase);
      return undefined;
    case 'certificate': {
      const cert = parseCertificate(key, 'certificate', fields.certificate!);
      if (fields.private_key) {
        const privateKey = checkPrivateKey(key, 'private_key', fields.private_key, passphrase);
        if (!privateKey || !cert.checkPrivateKey(privateKey)) {
          refuse(key, 'private_key', 'does not match the certificate');
        }
      }
      if (fields.ca_chain !== undefined) {
        const blocks = fields.ca_chain.match(PEM_BLOCK) ?? [];
        if (blocks.length === 0) refuse(key, 'ca_chain', 'holds no PEM certificate');
        for (const block of blocks) parseCertificate(key, 'ca_chain', block);
      }
      return {
        subject: cert.subject,
        issuer: cert.issuer,
        sans: cert.subjectAltName ?? null,
        not_before: new Date(cert.validFrom).toISOString(),
        not_after: new Date(cert.validTo).toISOString(),
      };
    }
    default:
      return undefined;
  }
}

/** The variables a typed secret expands into in env formats and `run` (`DB` credential → DB_USERNAME, DB_PASSWORD). */
export function expandTyped(key: string, typed: TypedValue): [string, string][] {
  const shape = SHAPES[typed.type];
  return Object.keys(shape.env)
    .filter((field) => typed.fields[field] !== undefined)
    .map((field) => [`${key}${shape.env[field]}`, typed.fields[field]!]);
}

/** For `run --files`: each file field's variable name and its content. */
export function fileMaterial(key: string, typed: TypedValue): { variable: string; content: string }[] {
  const shape = SHAPES[typed.type];
  return (FILE_FIELDS[typed.type] ?? [])
    .filter((field) => typed.fields[field] !== undefined)
    .map((field) => ({ variable: `${key}${shape.env[field]}`, content: typed.fields[field]! }));
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
