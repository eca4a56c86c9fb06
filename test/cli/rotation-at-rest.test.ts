import type { ChildProcess } from 'node:child_process';
import { scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptValue, unwrapDataKey } from '../../src/crypto/envelope.js';
import { readAllFiles, runCli, tempDir, type StoredRootKey } from '../helpers/test-context.js';
import { call, spawnServe } from '../helpers/test-server.js';

type RootKeyRow = StoredRootKey;

interface VersionRow {
  root_id: string;
  project_id: string;
  environment_id: string;
  key: string;
  version: number;
  ciphertext: Buffer;
}

/** What anyone can read from a copy of DATA_DIR: the database file as SQLite sees it (WAL included). */
function readRows(dataDir: string): { rootKeys: RootKeyRow[]; versions: VersionRow[] } {
  const sqlite = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'), { readonly: true });
  try {
    const rootKeys = sqlite.prepare('select * from root_keys').all() as RootKeyRow[];
    // Every project here belongs to the one root.
    const versions = sqlite
      .prepare(
        `select r.project_id as root_id, s.project_id, s.environment_id, s.key, v.version, v.ciphertext
         from secret_versions v join secrets s on s.id = v.secret_id cross join root_keys r
         where v.ciphertext is not null`,
      )
      .all() as VersionRow[];
    return { rootKeys, versions };
  } finally {
    sqlite.close();
  }
}

/** The attacker's first step with a retired master key: derive a KEK from a stored salt, unwrap the DEK. */
function unwrapWith(masterKey: string, row: RootKeyRow): Uint8Array {
  const { N, r, p } = JSON.parse(row.kdf) as { N: number; r: number; p: number };
  const kek = scryptSync(masterKey, row.salt, 32, { N, r, p, maxmem: 512 * 1024 * 1024 });
  return unwrapDataKey(kek, row.wrapped_dek, { rootId: row.project_id, keyVersion: row.key_version });
}

const tryOrUndefined = <T>(fn: () => T): T | undefined => {
  try {
    return fn();
  } catch {
    return undefined;
  }
};

/** A copy of every file of DATA_DIR, as a backup job or a thief would take it, while the server runs. */
function copyDataDir(dataDir: string): string {
  const copy = tempDir('secretsfly-copy-');
  fs.cpSync(dataDir, copy, { recursive: true });
  return copy;
}

function filesContaining(dir: string, needles: readonly Buffer[]): string[] {
  return readAllFiles(dir)
    .filter(({ content }) => needles.some((needle) => content.includes(needle)))
    .map(({ file }) => path.basename(file));
}

describe('a copy of DATA_DIR taken right after a rotation, while the server runs', () => {
  const dataDir = tempDir();
  const work = tempDir();
  let server: { child: ChildProcess; url: string };
  let token: string;
  const keyFile = (name: string, key: string) => {
    const file = path.join(work, name);
    fs.writeFileSync(file, key);
    return file;
  };
  const cli = (args: string[], input?: string) => runCli(args, { dataDir, ...(input !== undefined && { input }) });
  let firstKey: string;

  beforeAll(async () => {
    firstKey = (await cli(['project', 'create', 'acme'])).stdout.trim();
    await cli(['project', 'create', 'acme-api', '--parent', 'acme']);
    const first = keyFile('first', firstKey);
    // History too: every version is re-encrypted and must leave nothing behind.
    for (let i = 0; i < 3; i++) {
      for (const [project, key] of [
        ['acme', 'DB_PASSWORD'],
        ['acme-api', 'API_KEY'],
        ['acme', 'LONG_VALUE'],
      ] as const) {
        const value = key === 'LONG_VALUE' ? `${i}-${'L'.repeat(6000)}` : `${key}-v${i}`;
        expect((await cli(['secret', 'set', project, 'prod', key, '--master-key-file', first], value)).code).toBe(0);
      }
    }
    token = (await cli(['token', 'create', 'acme-api', 'prod', '--classic'])).stdout.trim();
    server = await spawnServe(dataDir);
    const pulled = await call(server, '/api/v1/secrets', { token, masterKey: firstKey });
    expect(pulled.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    if (server.child.exitCode === null) {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await exited;
    }
  });

  it('should keep nothing the retired master key opens after rotate --reencrypt', async () => {
    const before = readRows(dataDir);
    const oldRoot = before.rootKeys[0]!;
    const oldDek = unwrapWith(firstKey, oldRoot);
    expect(before.versions.length).toBeGreaterThanOrEqual(9);
    const oldBytes = [oldRoot.salt, oldRoot.wrapped_dek, ...before.versions.map((v) => v.ciphertext)];
    // Positive control: the scan finds them before the rotation.
    expect(filesContaining(dataDir, oldBytes)).not.toEqual([]);

    const rotated = await cli(['rotate', 'acme', '--reencrypt', '--master-key-file', keyFile('first', firstKey)]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stderr).not.toMatch(/warning/i);
    const copy = copyDataDir(dataDir);

    expect(filesContaining(copy, [oldRoot.salt])).toEqual([]);
    expect(filesContaining(copy, [oldRoot.wrapped_dek])).toEqual([]);
    for (const version of before.versions) {
      expect(filesContaining(copy, [version.ciphertext]), `${version.key} v${version.version}`).toEqual([]);
    }

    // The attacker's try with the retired key on what the copy holds: no data key, no value.
    const after = readRows(copy);
    expect(after.versions).toHaveLength(before.versions.length);
    for (const row of after.rootKeys) expect(tryOrUndefined(() => unwrapWith(firstKey, row))).toBeUndefined();
    for (const v of after.versions) {
      const context = {
        rootId: v.root_id,
        projectId: v.project_id,
        environmentId: v.environment_id,
        key: v.key,
        version: v.version,
      };
      expect(tryOrUndefined(() => decryptValue(oldDek, v.ciphertext, context))).toBeUndefined();
    }

    // The server serves the same values under the new key.
    const newKey = rotated.stdout.trim();
    const pulled = await call(server, '/api/v1/secrets', { token, masterKey: newKey });
    expect(pulled.status).toBe(200);
    expect(pulled.json.secrets.API_KEY).toBe('API_KEY-v2');
    firstKey = newKey;
  }, 120_000);

  it('should leave no copy of the old wrapped data key after a plain rotate', async () => {
    const oldRoot = readRows(dataDir).rootKeys[0]!;
    const rotated = await cli(['rotate', 'acme', '--master-key-file', keyFile('second', firstKey)]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const copy = copyDataDir(dataDir);
    expect(filesContaining(copy, [oldRoot.wrapped_dek])).toEqual([]);
    expect(filesContaining(copy, [oldRoot.salt])).toEqual([]);
    for (const row of readRows(copy).rootKeys) expect(tryOrUndefined(() => unwrapWith(firstKey, row))).toBeUndefined();
    expect((await call(server, '/api/v1/secrets', { token, masterKey: rotated.stdout.trim() })).status).toBe(200);
    firstKey = rotated.stdout.trim();
  }, 120_000);

  it('should warn when a reader kept it from clearing the old key material, and still rotate', async () => {
    // A long read (a backup tool, a sqlite3 shell) pins the WAL: the old pages cannot go yet.
    const reader = new SqliteDatabase(path.join(dataDir, 'secretsfly.db'), { readonly: true });
    try {
      reader.exec('begin');
      reader.prepare('select count(*) from secret_versions').get();
      const rotated = await cli(['rotate', 'acme', '--master-key-file', keyFile('third', firstKey)]);
      expect(rotated.code, rotated.stderr).toBe(0);
      const warnings = rotated.stderr.split('\n').filter((line) => line.startsWith('warning:'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('secretsfly.db-wal');
      firstKey = rotated.stdout.trim();
    } finally {
      reader.close();
    }
  }, 60_000);
});
