import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `run --files`: key and certificate material as files, because most tools want a path. A folder
 * only the user can open (0700, made by mkdtemp when the first file is written: under
 * $XDG_RUNTIME_DIR when it is the user's own and closed to others, else the system's temp folder),
 * each file 0600 from its first byte. The folder is removed when `run` ends: after the child exits,
 * on SIGINT/SIGTERM (forwarded to the child, whose exit ends `run`), and on any other exit of this
 * process. Only a SIGKILL of `run` itself leaves it behind.
 */
export class PrivateFiles {
  #dir: string | undefined;
  #removed = false;

  /** The folder, made on first use (a `run` stopped during its pull leaves nothing behind). */
  get dir(): string {
    if (this.#dir === undefined) {
      this.#dir = fs.mkdtempSync(path.join(privateBase(), 'secretsfly-files-'));
      fs.chmodSync(this.#dir, 0o700);
      process.once('exit', () => this.remove());
    }
    return this.#dir;
  }

  /** Writes `content` to the file named `name` (replacing one written before, whole) and returns its path. */
  write(name: string, content: string): string {
    const file = path.join(this.dir, name);
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, content, { mode: 0o600, flag: 'w' });
    fs.renameSync(temp, file);
    return file;
  }

  remove(): void {
    if (this.#removed || this.#dir === undefined) return;
    this.#removed = true;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * $XDG_RUNTIME_DIR only when it is a real folder of this user that nobody else may write into (a
 * misconfigured one shared with others would let them swap our folder); else the temp folder,
 * whose sticky bit keeps others from renaming what we make there.
 */
function privateBase(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime) {
    try {
      const stat = fs.lstatSync(runtime);
      if (stat.isDirectory() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0) return runtime;
    } catch {
      // Missing or unreadable: the temp folder will do.
    }
  }
  return os.tmpdir();
}
