import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { DatabaseExists, DatabaseInUse, InvalidBackup, InvalidRequest } from '../errors.js';
import { isInUse } from './in-use.js';
import { databasePath } from './open.js';

const REQUIRED_TABLES = ['projects', 'root_keys', 'secrets', 'secret_versions', 'kysely_migration'];

/** A consistent copy through SQLite's online backup API: safe while the server writes. */
export async function backupDatabase(sqlite: SqliteDatabase.Database, target: string): Promise<void> {
  const file = path.resolve(target);
  if (fs.existsSync(file)) throw new InvalidRequest(`${target} already exists: choose a new file`);
  const partial = `${file}.partial`;
  try {
    // Private from its first byte: SQLite would create it with the umask's mode (often world-readable).
    createPrivateFile(partial);
    await sqlite.backup(partial);
    fs.renameSync(partial, file);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
}

/** Checks that `file` is an intact secretsfly database before anything is replaced. */
function assertRestorable(file: string): void {
  let source: SqliteDatabase.Database | undefined;
  try {
    source = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    const check = source.pragma('integrity_check', { simple: true });
    const tables = new Set(
      (source.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map(
        (r) => r.name,
      ),
    );
    if (check !== 'ok' || !REQUIRED_TABLES.every((name) => tables.has(name))) throw new Error('not intact');
  } catch {
    throw new InvalidBackup(path.basename(file));
  } finally {
    source?.close();
  }
}

/**
 * Replaces DATA_DIR's database with a backup. Refuses to overwrite an existing database unless
 * `force`; the copy is made beside the target and renamed into place, so a failure changes nothing.
 */
export async function restoreDatabase(dataDir: string, source: string, force: boolean): Promise<void> {
  const sourceFile = path.resolve(source);
  if (!fs.existsSync(sourceFile)) throw new InvalidRequest(`${source} does not exist`);
  assertRestorable(sourceFile);
  const target = databasePath(dataDir);
  if (isInUse(dataDir)) throw new DatabaseInUse(dataDir);
  if (fs.existsSync(target) && fs.statSync(target).size > 0 && !force) {
    throw new DatabaseExists(target);
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const staging = `${target}.restoring`;
  const reader = new SqliteDatabase(sourceFile, { readonly: true });
  try {
    createPrivateFile(staging);
    await reader.backup(staging);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${target}${suffix}`, { force: true });
    fs.renameSync(staging, target);
  } catch (error) {
    // Whichever step failed, no copy of the secrets is left beside the database.
    fs.rmSync(staging, { force: true });
    throw error;
  } finally {
    reader.close();
  }
}

/** An empty file only this user can read, replacing a leftover of an interrupted run. */
function createPrivateFile(file: string): void {
  fs.rmSync(file, { force: true });
  fs.closeSync(fs.openSync(file, 'wx', 0o600));
}
