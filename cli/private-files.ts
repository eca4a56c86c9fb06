import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `run --files`: key and certificate material as files, because most tools want a path. A folder
 * only the user can open (0700, made by mkdtemp under $XDG_RUNTIME_DIR when there is one, a tmpfs
 * that is the user's own, else the system's temp folder), each file 0600 from its first byte. The
 * folder is removed when `run` ends: after the child exits, on SIGINT/SIGTERM (forwarded to the
 * child, whose exit ends `run`), and on any other exit of this process. Only a SIGKILL of `run`
 * itself leaves it behind.
 */
export class PrivateFiles {
  readonly dir: string;
  #removed = false;

  constructor() {
    const runtime = process.env.XDG_RUNTIME_DIR;
    const base = runtime && fs.existsSync(runtime) ? runtime : os.tmpdir();
    this.dir = fs.mkdtempSync(path.join(base, 'secretsfly-files-'));
    fs.chmodSync(this.dir, 0o700);
    process.once('exit', () => this.remove());
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
    if (this.#removed) return;
    this.#removed = true;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
