import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { DatabaseExists, DatabaseInUse, InvalidBackup, InvalidRequest } from '../errors.js';
import { type CopyCounts, copyDatabase, TargetNotEmpty } from './copy.js';
import type { Database } from './database.js';
import { isInUse } from './in-use.js';
import { migrateToLatest } from './migrate.js';
import { databasePath } from './open.js';
import { describePostgres, openPostgres, unreachablePostgres } from './postgres.js';

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

/*
 * PostgreSQL (DATABASE_URL): backups are SQLite files all the same, one portable format. `backup`
 * copies the database into a new SQLite file (copy.ts: one snapshot, verified row for row);
 * `restore` copies a backup file into the PostgreSQL database, all or nothing.
 */

const kyselyOver = (sqlite: SqliteDatabase.Database) =>
  new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });

/** A consistent SQLite backup of a PostgreSQL database, at the same migration, written as `backupDatabase` does. */
export async function backupPostgres(source: Kysely<Database>, target: string): Promise<CopyCounts> {
  const file = path.resolve(target);
  if (fs.existsSync(file)) throw new InvalidRequest(`${target} already exists: choose a new file`);
  const partial = `${file}.partial`;
  try {
    createPrivateFile(partial);
    const sqlite = new SqliteDatabase(partial);
    // The file is thrown away on any failure: a rollback journal on disk would be one more copy.
    sqlite.pragma('journal_mode = MEMORY');
    sqlite.pragma('foreign_keys = ON');
    const db = kyselyOver(sqlite);
    let counts: CopyCounts;
    try {
      await migrateToLatest(db);
      counts = await copyDatabase(source, db);
    } finally {
      await db.destroy();
    }
    fs.renameSync(partial, file);
    return counts;
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
}

/**
 * Copies a backup file into the PostgreSQL database at `url`, which must be empty unless `force`
 * (then it is emptied in the same transaction). A backup made before the latest migration is
 * migrated first, in a private temporary copy.
 */
export async function restorePostgres(url: string, source: string, force: boolean): Promise<CopyCounts> {
  const sourceFile = path.resolve(source);
  if (!fs.existsSync(sourceFile)) throw new InvalidRequest(`${source} does not exist`);
  assertRestorable(sourceFile);
  const staged = await stageAtLatest(sourceFile);
  const { db: target } = openPostgres(url);
  try {
    try {
      // Connect first: migrateToLatest's error no longer carries the driver's code.
      await sql`select 1`.execute(target);
    } catch (error) {
      throw unreachablePostgres(error, url);
    }
    await migrateToLatest(target);
    // As on SQLite, never under running servers: they would keep serving what they hold unsealed.
    const live = await liveInstances(target);
    if (live.length > 0) throw new DatabaseInUse(`${describePostgres(url)} (instances ${live.join(', ')})`);
    return await copyDatabase(staged.db, target, { replace: force });
  } catch (error) {
    if (error instanceof TargetNotEmpty) {
      throw new DatabaseExists(`${describePostgres(url)} (its table ${error.table} has rows)`);
    }
    throw error;
  } finally {
    await target.destroy();
    await staged.close();
  }
}

/** Instances that said they were alive lately (http/instances.ts beats every 10 s). */
async function liveInstances(db: Kysely<Database>): Promise<string[]> {
  const since = new Date(Date.now() - 35_000).toISOString();
  const rows = await sql<{ name: string }>`select name from instances where seen_at > ${since}`.execute(db);
  return rows.rows.map((row) => row.name);
}

/** The backup read as it is when it is at the latest migration, else a migrated private copy of it. */
async function stageAtLatest(file: string): Promise<{ db: Kysely<Database>; close(): Promise<void> }> {
  const reader = new SqliteDatabase(file, { readonly: true });
  const applied = (reader.prepare('select name from kysely_migration').all() as { name: string }[]).map((r) => r.name);
  const known = Object.keys(migrations);
  if (applied.some((name) => !known.includes(name))) {
    reader.close();
    throw new InvalidRequest(`${path.basename(file)} was made by a newer secretsfly: upgrade this one first`);
  }
  if (applied.length === known.length) {
    const db = kyselyOver(reader);
    return { db, close: () => db.destroy() };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secretsfly-restore-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const copy = path.join(dir, 'backup.db');
    createPrivateFile(copy);
    await reader.backup(copy);
    const db = kyselyOver(new SqliteDatabase(copy));
    await migrateToLatest(db).catch(async (error: unknown) => {
      await db.destroy();
      throw error;
    });
    return {
      db,
      close: async () => {
        await db.destroy();
        remove();
      },
    };
  } catch (error) {
    remove();
    throw error;
  } finally {
    reader.close();
  }
}
