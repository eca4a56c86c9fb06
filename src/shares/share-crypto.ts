import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { STATIC_DIR } from '../paths.js';

export interface ShareCrypto {
  encryptShare(text: string, passphrase?: string): Promise<{ ciphertext: string; key: string }>;
  decryptShare(ciphertext: string, key: string, passphrase?: string): Promise<string>;
}

/** The browser's own module (static/share-crypto.js, WebCrypto), loaded as is: one implementation, so links interoperate. */
export const loadShareCrypto = () =>
  import(pathToFileURL(path.join(STATIC_DIR, 'share-crypto.js')).href) as Promise<ShareCrypto>;
