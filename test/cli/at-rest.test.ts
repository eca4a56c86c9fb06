import { scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapDataKey } from '../../src/crypto/envelope.js';
import { onPostgres } from '../helpers/postgres.js';
import {
  DATABASE_DUMP,
  readAllStored,
  failCiphertextUpdates,
  removeFault,
  runCli,
  snapshotDatabase,
  tempDir,
  type StoredRootKey,
} from '../helpers/test-context.js';

type RootKeyRow = StoredRootKey;

/** Derives KEK and DEK as the product does, from outside, to know which bytes must never be on disk. */
async function keyMaterial(dataDir: string, masterKey: string): Promise<Buffer[]> {
  const row = ((await snapshotDatabase(dataDir)).root_keys as RootKeyRow[])[0]!;
  const { N, r, p } = JSON.parse(row.kdf) as { N: number; r: number; p: number };
  const kek = scryptSync(masterKey, row.salt, 32, { N, r, p, maxmem: 512 * 1024 * 1024 });
  const dek = unwrapDataKey(kek, row.wrapped_dek, { rootId: row.project_id, keyVersion: row.key_version });
  return [kek, Buffer.from(dek)];
}

function encodings(secret: Buffer): Buffer[] {
  return [
    secret,
    Buffer.from(secret.toString('hex')),
    Buffer.from(secret.toString('hex').toUpperCase()),
    Buffer.from(secret.toString('base64').replace(/=+$/, '')),
    Buffer.from(secret.toString('base64url')),
  ];
}

describe('nothing readable at rest after a full CLI session', () => {
  const dataDir = tempDir();
  const work = tempDir();
  const masterKeys: string[] = [];
  const keyBytes: Buffer[] = [];
  const plaintexts = [
    'pl41ntext-root-db-password',
    'pl41ntext-child-api-key',
    'pl41ntext-imported-value',
    'pl41ntext-multiline\nsecond-line',
    'pl41ntext-überschrift-🔐',
  ];
  const cli = (args: string[], input?: string) =>
    runCli(args, { dataDir, env: { AVAILABLE_ENVIRONMENTS: 'prod,staging' }, ...(input !== undefined && { input }) });
  let files = 0;
  const keyFile = (key: string) => {
    const file = path.join(work, `${(files += 1)}.key`);
    fs.writeFileSync(file, key);
    return file;
  };

  beforeAll(async () => {
    const created = await cli(['project', 'create', 'acme']);
    masterKeys.push(created.stdout.trim());
    keyBytes.push(...(await keyMaterial(dataDir, masterKeys[0]!)));
    const first = keyFile(masterKeys[0]!);
    await cli(['project', 'create', 'acme-api', '--parent', 'acme']);
    await cli(['secret', 'set', 'acme', 'prod', 'DB_PASSWORD', plaintexts[0]!, '--master-key-file', first]);
    await cli(['secret', 'set', 'acme-api', 'prod', 'API_KEY', '--master-key-file', first], plaintexts[1]);
    const envFile = path.join(work, 'import.env');
    fs.writeFileSync(
      envFile,
      `IMPORTED="${plaintexts[2]}"\nMULTI="${plaintexts[3]!.replace('\n', '\\n')}"\nUNICODE=${plaintexts[4]}\n`,
    );
    expect((await cli(['import', 'acme-api', 'staging', envFile, '--master-key-file', first])).code).toBe(0);
    await cli(['token', 'create', 'acme-api', 'prod', '--classic']);

    const rotated = await cli(['rotate', 'acme', '--master-key-file', first]);
    expect(rotated.code, rotated.stderr).toBe(0);
    masterKeys.push(rotated.stdout.trim());
    keyBytes.push(...(await keyMaterial(dataDir, masterKeys[1]!)));

    masterKeys.push(`chosen-master-key-${'z'.repeat(20)}`);
    const third = keyFile(masterKeys[2]!);
    const reencrypted = await cli([
      'rotate',
      'acme',
      '--reencrypt',
      '--master-key-file',
      keyFile(masterKeys[1]!),
      '--new-master-key-file',
      third,
    ]);
    expect(reencrypted.code, reencrypted.stderr).toBe(0);
    keyBytes.push(...(await keyMaterial(dataDir, masterKeys[2]!)));

    // Everything still reads back with the newest key.
    expect((await cli(['secret', 'get', 'acme-api', 'staging', 'MULTI', '--master-key-file', third])).stdout).toBe(
      `${plaintexts[3]}\n`,
    );
  }, 120_000);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('should have written every file it uses, WAL and SHM included', async () => {
    const files = await readAllStored(dataDir);
    expect(files.map(({ file }) => path.basename(file))).toContain(onPostgres ? DATABASE_DUMP : 'secretsfly.db');
    // Positive control: the scan does see what is stored in clear (names are metadata).
    expect(files.some(({ content }) => content.includes(Buffer.from('acme-api')))).toBe(true);
    expect(files.some(({ content }) => content.includes(Buffer.from('DB_PASSWORD')))).toBe(true);
  });

  it('should hold no master key, old or new, in any encoding', async () => {
    for (const { file, content } of await readAllStored(dataDir)) {
      for (const key of masterKeys) {
        for (const needle of [...encodings(Buffer.from(key)), Buffer.from(key.replace(/^sfmk_/, ''))]) {
          expect(content.includes(needle), `${path.basename(file)} contains a master key`).toBe(false);
        }
      }
    }
  });

  it('should hold no KEK or DEK bytes', async () => {
    expect(keyBytes).toHaveLength(6);
    for (const { file, content } of await readAllStored(dataDir)) {
      for (const key of keyBytes) {
        for (const needle of encodings(key)) {
          expect(content.includes(needle), `${path.basename(file)} contains key material`).toBe(false);
        }
      }
    }
  });

  it('should hold no plaintext value', async () => {
    for (const { file, content } of await readAllStored(dataDir)) {
      for (const value of plaintexts) {
        for (const needle of [Buffer.from(value), Buffer.from(value, 'utf16le'), Buffer.from(value.slice(0, 14))]) {
          expect(content.includes(needle), `${path.basename(file)} contains a plaintext value`).toBe(false);
        }
      }
    }
  });
});

describe('rotate --reencrypt interrupted by a fault in a real child process', () => {
  it('should exit 1 and leave the old master key and every version readable', async () => {
    const dataDir = tempDir();
    const work = tempDir();
    const cli = (args: string[]) => runCli(args, { dataDir });
    const keyFile = path.join(work, 'old.key');
    fs.writeFileSync(keyFile, (await cli(['project', 'create', 'acme'])).stdout);
    for (const value of ['v1', 'v2', 'v3'])
      await cli(['secret', 'set', 'acme', 'prod', 'K', value, '--master-key-file', keyFile]);
    await failCiphertextUpdates(dataDir, 2);
    const before = await snapshotDatabase(dataDir);
    const result = await cli(['rotate', 'acme', '--reencrypt', '--master-key-file', keyFile]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(await snapshotDatabase(dataDir)).toEqual(before);

    await removeFault(dataDir);
    for (const version of ['1', '2', '3']) {
      expect((await cli(['secret', 'rollback', 'acme', 'prod', 'K', version, '--master-key-file', keyFile])).code).toBe(
        0,
      );
      expect((await cli(['secret', 'get', 'acme', 'prod', 'K', '--master-key-file', keyFile])).stdout).toBe(
        `v${version}\n`,
      );
    }
  });
});
