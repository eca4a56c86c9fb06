import { scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { decryptValue, unwrapDataKey, type ValueContext } from '../../src/crypto/envelope.js';
import { environmentKey } from '../../src/crypto/scoped-keys.js';
import { startServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { copyDatabase, databaseUrlFor, onPostgres } from './postgres.js';
import { engineEnv, FAST_KDF, ROOT, selectRows, tempDir, type StoredRootKey } from './test-context.js';

/**
 * Reading a DATA_DIR from outside, as an attacker with a copy (or a test checking what the product
 * wrote) would: rows as SQLite stores them, and the project's own crypto functions to open them.
 */

export const FIXTURE = path.join(ROOT, 'test/fixtures/release-0.1.0');

const fixtureText = (name: string) => fs.readFileSync(path.join(FIXTURE, name), 'utf8').replace(/\r?\n$/, '');

/** What test/fixtures/release-0.1.0/README.md says the fixture holds. */
export const fixture = {
  masterKey: fixtureText('master-key.txt'),
  masterKeyFile: path.join(FIXTURE, 'master-key.txt'),
  tokenProd: fixtureText('token-prod.txt'),
  tokenStaging: fixtureText('token-staging.txt'),
};

/**
 * A private copy of the fixture's DATA_DIR: only the committed database file (SQLite would create
 * -wal and -shm beside the original if it were ever opened in place, and the fixture must stay as
 * the old release wrote it).
 */
export function copyFixture(): string {
  const dir = tempDir('secretsfly-fixture-');
  fs.copyFileSync(path.join(FIXTURE, 'datadir/secretsfly.db'), path.join(dir, 'secretsfly.db'));
  return dir;
}

/**
 * A copy of every file of DATA_DIR, as a backup job or a thief would take it; on PostgreSQL, of its
 * database too (the copy's folder stands for a database holding the same rows).
 */
export async function copyDataDir(dataDir: string): Promise<string> {
  const copy = tempDir('secretsfly-copy-');
  fs.cpSync(dataDir, copy, { recursive: true });
  if (onPostgres) await copyDatabase(await databaseUrlFor(dataDir), await databaseUrlFor(copy));
  return copy;
}

export interface StoredRoot extends StoredRootKey {
  value_keys?: string;
  revision: number;
}

export interface StoredVersion {
  root_id: string;
  project_id: string;
  project: string;
  environment_id: string;
  environment: string;
  key: string;
  version: number;
  ciphertext: Buffer | null;
}

export interface StoredToken {
  id: string;
  kind?: string;
  token_hash: Buffer;
  wrapped_key?: Buffer | null;
  project_id: string;
  environment_id: string;
  revoked_at: string | null;
}

export interface Stored {
  roots: StoredRoot[];
  versions: StoredVersion[];
  tokens: StoredToken[];
  projects: { id: string; name: string; parent_id: string | null; root_id: string }[];
  environments: { id: string; name: string }[];
}

/**
 * Every root key, secret version (tombstones included) and token of a DATA_DIR (its PostgreSQL
 * database on that pass), read-only (WAL included).
 */
export async function readStored(dataDir: string): Promise<Stored> {
  return {
    roots: await selectRows<StoredRoot>(dataDir, 'select * from root_keys order by project_id'),
    versions: await selectRows<StoredVersion>(
      dataDir,
      `select p.root_id, s.project_id, p.name as project, s.environment_id, e.name as environment, s.key,
              v.version, v.ciphertext
       from secret_versions v join secrets s on s.id = v.secret_id
       join projects p on p.id = s.project_id join environments e on e.id = s.environment_id
       order by p.name, e.name, s.key, v.version`,
    ),
    tokens: await selectRows<StoredToken>(dataDir, 'select * from service_tokens order by id'),
    projects: await selectRows<Stored['projects'][number]>(
      dataDir,
      'select id, name, parent_id, root_id from projects',
    ),
    environments: await selectRows<Stored['environments'][number]>(dataDir, 'select id, name from environments'),
  };
}

/** Master key → KEK (scrypt with the row's stored parameters) → DEK, as the product does. Throws when the key is wrong. */
export function dekOf(masterKey: string, row: StoredRootKey): Uint8Array {
  return unwrapDataKey(kekOf(masterKey, row), row.wrapped_dek, { rootId: row.project_id, keyVersion: row.key_version });
}

export function kekOf(masterKey: string, row: StoredRootKey): Buffer {
  const { N, r, p } = JSON.parse(row.kdf) as { N: number; r: number; p: number };
  return scryptSync(masterKey, row.salt, 32, { N, r, p, maxmem: 512 * 1024 * 1024 });
}

/** The key a version's ciphertext is under, for the root's stored scheme (key.service.ts valueKeysOf). */
export function valueKeyOf(dek: Uint8Array, root: StoredRoot, environmentId: string): Uint8Array {
  return root.value_keys === 'environment' ? environmentKey(dek, root.project_id, environmentId) : dek;
}

export function contextOf(v: StoredVersion): ValueContext {
  return {
    rootId: v.root_id,
    projectId: v.project_id,
    environmentId: v.environment_id,
    key: v.key,
    version: v.version,
  };
}

export const tryOrUndefined = <T>(fn: () => T): T | undefined => {
  try {
    return fn();
  } catch {
    return undefined;
  }
};

/** The value of a stored version under `key`, or undefined when that key does not open it. */
export function tryDecrypt(key: Uint8Array, v: StoredVersion): string | undefined {
  return v.ciphertext === null ? undefined : tryOrUndefined(() => decryptValue(key, v.ciphertext!, contextOf(v)));
}

/** `project/environment/KEY@version`: how the tests name a stored version. */
export const versionName = (v: Pick<StoredVersion, 'project' | 'environment' | 'key' | 'version'>) =>
  `${v.project}/${v.environment}/${v.key}@${v.version}`;

/** Every encoding of a secret these tests look for in files and logs. */
export function encodings(secret: Buffer): Buffer[] {
  return [
    secret,
    Buffer.from(secret.toString('hex')),
    Buffer.from(secret.toString('hex').toUpperCase()),
    Buffer.from(secret.toString('base64')),
    Buffer.from(secret.toString('base64').replace(/=+$/, '')),
    Buffer.from(secret.toString('base64url')),
  ];
}

/** A real server (debug log kept in memory) over an existing DATA_DIR, such as a copy of the fixture. */
export async function serveDataDir(dataDir: string) {
  const logLines: string[] = [];
  const server = await startServer(
    loadConfig({
      DATA_DIR: dataDir,
      PORT: '0',
      AVAILABLE_ENVIRONMENTS: 'prod,staging',
      LOG_LEVEL: 'debug',
      ...(await engineEnv(dataDir)),
    }),
    {
      logger: createLogger('debug', (line) => logLines.push(line)),
      announce: () => {},
      overrides: { kdfParams: FAST_KDF },
    },
  );
  return Object.assign(server, { dataDir, logLines });
}
