// `npm install` builds dist/ (so `npx secretsfly` works from a clone). A production install
// (`npm ci --omit=dev`) has no TypeScript: there dist/ comes from the build (Docker's build stage).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.log('secretsfly: TypeScript not installed (production install): using the dist/ that was built before');
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
