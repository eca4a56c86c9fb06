import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding our package.json, found from this file (src/ in development, dist/src/ when built). */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'package.json');
    if (
      fs.existsSync(candidate) &&
      (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string }).name === 'secretsfly'
    ) {
      return dir;
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the secretsfly package root');
}

export const PACKAGE_ROOT = findPackageRoot();
export const VIEWS_DIR = path.join(PACKAGE_ROOT, 'views');
export const STATIC_DIR = path.join(PACKAGE_ROOT, 'static');
