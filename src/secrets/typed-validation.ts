import { createPrivateKey, X509Certificate } from 'node:crypto';
import sshpk from 'sshpk';
import { InvalidRequest, TooLarge } from '../errors.js';
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

/**
 * The most work an encrypted key may ask of us when it is opened at write (its KDF runs on the
 * server's event loop): bcrypt rounds of an OpenSSH key (ssh-keygen's default is 16; each round is
 * ~20 ms in sshpk's JavaScript) and PBKDF2 iterations of a PKCS#8 key (OpenSSL's default is 2,048).
 * A key asking for more is refused by name before any KDF runs, not left to block every request.
 */
export const KEY_KDF_LIMITS = Object.freeze({ bcryptRounds: 32, pbkdf2Iterations: 100_000 });

/** Every `-----BEGIN …-----` … `-----END …-----` block of `text`, found without a backtracking regex. */
function pemBlocks(text: string): string[] {
  const blocks: string[] = [];
  let at = text.indexOf('-----BEGIN ');
  while (at !== -1) {
    const end = text.indexOf('-----END ', at);
    if (end === -1) break;
    const close = text.indexOf('-----', end + 9);
    if (close === -1) break;
    blocks.push(text.slice(at, close + 5));
    at = text.indexOf('-----BEGIN ', close + 5);
  }
  return blocks;
}

/** The DER bytes of a PEM block's body (base64 between its marker lines, headers skipped). */
function pemBody(pem: string): Buffer {
  const lines = pem.split(/\r?\n/).filter((line) => line && !line.startsWith('-----') && !line.includes(':'));
  return Buffer.from(lines.join(''), 'base64');
}

/**
 * The KDF cost an encrypted key declares, read from its own header before anything opens it: the
 * OpenSSH key format's `kdfoptions` (PROTOCOL.key: salt, then a uint32 of rounds), or the PBKDF2
 * parameters of a PKCS#8 EncryptedPrivateKeyInfo (the INTEGER after its salt). Refuses a cost above
 * KEY_KDF_LIMITS, and a PKCS#8 KDF other than PBKDF2 (scrypt's cost is three numbers we do not take).
 */
function assertAffordableKdf(key: string, field: string, text: string): void {
  const too = (what: string) =>
    refuse(key, field, `asks for ${what} to open: re-encrypt it with a lower cost (e.g. ssh-keygen -p -a 16)`);
  if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) {
    const der = pemBody(text);
    const magic = 'openssh-key-v1\0';
    if (der.subarray(0, magic.length).toString('latin1') !== magic) return;
    let at = magic.length;
    const next = () => {
      const length = der.readUInt32BE(at);
      const value = der.subarray(at + 4, at + 4 + length);
      at += 4 + length;
      return value;
    };
    try {
      next(); // cipher name
      const kdf = next().toString('latin1');
      const options = next();
      if (kdf === 'bcrypt') {
        const rounds = options.readUInt32BE(4 + options.readUInt32BE(0));
        if (rounds > KEY_KDF_LIMITS.bcryptRounds)
          too(`${rounds} bcrypt rounds (at most ${KEY_KDF_LIMITS.bcryptRounds})`);
      }
    } catch (error) {
      if (error instanceof InvalidRequest) throw error;
      refuse(key, field, 'is not an OpenSSH private key that sshpk can read');
    }
    return;
  }
  if (!text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) return;
  const der = pemBody(text);
  const PBKDF2 = Buffer.from('06092a864886f70d01050c', 'hex');
  const oid = der.indexOf(PBKDF2);
  if (oid === -1) refuse(key, field, 'is encrypted with a scheme other than PBKDF2, which is not accepted');
  // After the OID: SEQUENCE { OCTET STRING salt, INTEGER iterations, … } (short DER lengths).
  let at = oid + PBKDF2.length;
  if (der[at] !== 0x30) refuse(key, field, 'is not a PKCS#8 key node:crypto can read');
  at += 2;
  if (der[at] !== 0x04) refuse(key, field, 'is not a PKCS#8 key node:crypto can read');
  at += 2 + der[at + 1]!;
  if (der[at] !== 0x02 || der[at + 1]! > 4) refuse(key, field, 'is not a PKCS#8 key node:crypto can read');
  const iterations = der.subarray(at + 2, at + 2 + der[at + 1]!).reduce((n, byte) => n * 256 + byte, 0);
  if (iterations > KEY_KDF_LIMITS.pbkdf2Iterations) {
    too(`${iterations} PBKDF2 iterations (at most ${KEY_KDF_LIMITS.pbkdf2Iterations})`);
  }
}

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
  if (passphrase !== undefined) assertAffordableKdf(key, field, text);
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
export function validateTyped(key: string, typed: TypedValue, maxBytes: number): CertificateMetadata | undefined {
  const shape = (SECRET_TYPES as readonly string[]).includes(typed.type) ? fieldsOf(typed.type) : undefined;
  if (!shape) throw new InvalidRequest(`${key}: the type must be one of ${SECRET_TYPES.join(', ')}`);
  // Size first: nothing below should parse more than a value may hold.
  const bytes = Object.values(typed.fields).reduce((n, value) => n + Buffer.byteLength(String(value)), 0);
  if (bytes > maxBytes) throw new TooLarge(`the fields of ${key} exceed the ${maxBytes}-byte limit for a value`);
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
        const blocks = pemBlocks(fields.ca_chain);
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
