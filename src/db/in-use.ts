import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';

/**
 * Whether a server is using a DATA_DIR, so that `restore` can refuse to swap the database out from
 * under one (it would go on serving, and writing to, the file it already had open).
 *
 * Each running server holds a read transaction open on DATA_DIR/in-use.lock, a tiny SQLite file: a
 * shared lock, which any number of servers can hold at once. `restore` asks for an exclusive lock
 * without waiting and gets it only when no server holds one. SQLite's locks are the file system's
 * (POSIX advisory locks), so they are seen across processes and containers sharing the directory,
 * whatever their process ids, and the kernel drops them when a server dies, even by kill -9.
 */
const LOCK_FILE = 'in-use.lock';

function openLock(dataDir: string): SqliteDatabase.Database {
  const file = path.join(dataDir, LOCK_FILE);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  const lock = new SqliteDatabase(file);
  lock.pragma('busy_timeout = 0');
  return lock;
}

export function markInUse(dataDir: string): () => void {
  const lock = openLock(dataDir);
  lock.exec('CREATE TABLE IF NOT EXISTS servers (x)');
  lock.exec('BEGIN');
  lock.prepare('SELECT count(*) FROM servers').get();
  return () => {
    if (lock.inTransaction) lock.exec('ROLLBACK');
    lock.close();
  };
}

export function isInUse(dataDir: string): boolean {
  if (!fs.existsSync(path.join(dataDir, LOCK_FILE))) return false;
  const lock = openLock(dataDir);
  try {
    lock.exec('BEGIN EXCLUSIVE');
    lock.exec('ROLLBACK');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    lock.close();
  }
}
