import fs from 'node:fs';
import path from 'node:path';

/**
 * Which servers are using a DATA_DIR, so that `restore` can refuse to swap the database out from
 * under one (it would go on serving, and writing to, the file it already had open). Each running
 * server keeps a file `serve-<pid>.pid` there while it runs; one left by a process that no longer
 * exists (kill -9, a power cut) is ignored and removed.
 */
const PID_FILE = /^serve-(\d+)\.pid$/;

export function markInUse(dataDir: string): () => void {
  const file = path.join(dataDir, `serve-${process.pid}.pid`);
  fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => fs.rmSync(file, { force: true });
}

export function serversUsing(dataDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dataDir);
  } catch {
    return [];
  }
  const alive: number[] = [];
  for (const name of names) {
    const pid = Number(PID_FILE.exec(name)?.[1]);
    if (!pid) continue;
    if (isRunning(pid)) alive.push(pid);
    else fs.rmSync(path.join(dataDir, name), { force: true });
  }
  return alive;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
