import { InvalidRequest } from '../errors.js';
import { fieldsOf, isStructuredType, SECRET_TYPES, type SecretType, type TypedValue } from './typed-secrets.js';
import type { CertificateMetadata } from './typed-validation.js';

/**
 * The UI's form per secret type (views/partials/typed-fields.hbs): which inputs each type has, what
 * a posted form means, and how a certificate's public metadata is shown. One place for all three
 * pages that write a value (the project page, a key's page) so that they cannot drift.
 */

const TYPE_LABELS: Record<SecretType, string> = {
  generic: 'Plain value',
  credential: 'Credential',
  ssh_key: 'SSH key',
  api_key: 'API key',
  certificate: 'Certificate',
};

const FIELD_LABELS: Record<string, string> = {
  username: 'Username',
  password: 'Password',
  private_key: 'Private key (PEM or OpenSSH)',
  passphrase: 'Passphrase of the private key',
  value: 'API key',
  header: 'Header name (e.g. Authorization)',
  certificate: 'Certificate (PEM)',
  ca_chain: 'CA chain (PEM certificates)',
};
const MULTILINE = new Set(['private_key', 'certificate', 'ca_chain']);
const MASKED = new Set(['password', 'passphrase', 'value']);

export const typeLabel = (type: string): string => TYPE_LABELS[type as SecretType] ?? type;

/** The type a page's form shows: `?type=` when it names one, else the value's own type. */
export function formType(asked: unknown, current: SecretType = 'generic'): SecretType {
  return typeof asked === 'string' && (SECRET_TYPES as readonly string[]).includes(asked)
    ? (asked as SecretType)
    : current;
}

/** The type switcher's links (plain HTML: no script needed) and the inputs of the chosen type. */
export function typedFormView(type: SecretType, href: (type: SecretType) => string, typed?: TypedValue) {
  const choices = SECRET_TYPES.map((t) => ({ type: t, label: TYPE_LABELS[t], href: href(t), current: t === type }));
  if (type === 'generic') return { choices, type, label: TYPE_LABELS[type], generic: true };
  const { required, optional } = fieldsOf(type);
  const fields = [...required, ...optional].map((name) => ({
    name,
    label: FIELD_LABELS[name] ?? name,
    required: required.includes(name),
    multiline: MULTILINE.has(name),
    masked: MASKED.has(name),
    value: typed?.type === type ? (typed.fields[name] ?? '') : '',
  }));
  return { choices, type, label: TYPE_LABELS[type], generic: false, fields };
}

/** A posted form as a typed value (undefined for a plain one): `type` and one `field_<name>` per field. */
export function typedFromForm(read: (name: string) => string): TypedValue | undefined {
  const type = read('type') || 'generic';
  if (type === 'generic') return undefined;
  if (!isStructuredType(type)) throw new InvalidRequest(`the type must be one of ${SECRET_TYPES.join(', ')}`);
  const { required, optional } = fieldsOf(type);
  const fields: Record<string, string> = {};
  for (const name of [...required, ...optional]) {
    // Browsers send every textarea line break as CRLF (HTML spec); a person typing one means \n.
    const value = read(`field_${name}`).replace(/\r\n/g, '\n');
    if (value !== '' || required.includes(name)) fields[name] = value;
  }
  return { type, fields };
}

/** A certificate's public metadata for a page: dates, and whether it has expired or soon will (30 days). */
export function certificateView(certificate: CertificateMetadata | undefined, now: Date) {
  if (!certificate) return undefined;
  const daysLeft = Math.floor((Date.parse(certificate.not_after) - now.getTime()) / 86_400_000);
  return {
    ...certificate,
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? certificate.subject,
    daysLeft,
    expired: daysLeft < 0,
    expiresSoon: daysLeft >= 0 && daysLeft <= 30,
  };
}
