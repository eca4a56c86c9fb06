// One-time shares, encrypted where they are made: the same file runs in the browser (share and
// reveal pages) and in the CLI, so a link made by either opens in the other.
//
//   link:        <server>/s/<id>#<key>       the fragment (256 random bits) never reaches a server
//   ciphertext:  v1.<p|n>.<salt>.<iv>.<data> base64url parts; AES-256-GCM under
//                HKDF-SHA256(key ‖ PBKDF2-SHA256(passphrase, salt, 600 000), salt, "secretsfly-share-v1")
//                (without a passphrase, HKDF over the key alone); the version and p|n are the AAD.

const PBKDF2_ITERATIONS = 600000;
const encoder = new TextEncoder();

function toBase64Url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function deriveKey(linkKey, salt, passphrase) {
  let material = linkKey;
  if (passphrase) {
    const base = await crypto.subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, ['deriveBits']);
    const stretched = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS },
        base,
        256,
      ),
    );
    material = new Uint8Array([...linkKey, ...stretched]);
  }
  const hkdf = await crypto.subtle.importKey('raw', material, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode('secretsfly-share-v1') },
    hkdf,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Encrypts `text`; returns the ciphertext for the server and the key for the link's fragment. */
export async function encryptShare(text, passphrase) {
  const linkKey = crypto.getRandomValues(new Uint8Array(32));
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const flag = passphrase ? 'p' : 'n';
  const key = await deriveKey(linkKey, salt, passphrase);
  const data = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(`v1.${flag}`) },
      key,
      encoder.encode(text),
    ),
  );
  return {
    ciphertext: ['v1', flag, toBase64Url(salt), toBase64Url(iv), toBase64Url(data)].join('.'),
    key: toBase64Url(linkKey),
  };
}

/** Whether a ciphertext needs a passphrase to open. */
export function needsPassphrase(ciphertext) {
  return ciphertext.split('.')[1] === 'p';
}

/** Decrypts; throws on a wrong key or passphrase, or any altered byte. */
export async function decryptShare(ciphertext, linkKeyText, passphrase) {
  const [version, flag, salt, iv, data] = ciphertext.split('.');
  if (version !== 'v1' || (flag !== 'p' && flag !== 'n') || !data) throw new Error('unknown share format');
  if (flag === 'p' && !passphrase) throw new Error('this secret needs its passphrase');
  const key = await deriveKey(fromBase64Url(linkKeyText), fromBase64Url(salt), flag === 'p' ? passphrase : undefined);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData: encoder.encode(`v1.${flag}`) },
      key,
      fromBase64Url(data),
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw new Error(
      flag === 'p' ? 'wrong passphrase, or the link is incomplete' : 'the link is incomplete or the secret was altered',
    );
  }
}
