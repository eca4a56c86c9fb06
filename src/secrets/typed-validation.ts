import { createPrivateKey, X509Certificate } from 'node:crypto';
import sshpk from 'sshpk';
import { InvalidRequest } from '../errors.js';
import { fieldsOf, SECRET_TYPES, type TypedValue } from './typed-secrets.js';

/** A typed secret's checks at write (README, "Secret types"); never a value in a message. */

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
  // An encrypted PEM key says so in its header; without a passphrase OpenSSL's refusal is obscure.
  if (passphrase === undefined && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    refuse(key, field, 'is encrypted: give its passphrase');
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
  const shape = (SECRET_TYPES as readonly string[]).includes(typed.type) ? fieldsOf(typed.type) : undefined;
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
