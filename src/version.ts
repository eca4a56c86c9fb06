import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const findPackage = (): { version: string } => {
  // src/version.ts and dist/src/version.js sit one and two levels below package.json.
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: string; version: string };
      if (pkg.name === 'secretsfly') return pkg;
    } catch {
      // try the next level up
    }
  }
  return { version: '0.0.0' };
};

export const VERSION: string = findPackage().version;
