#!/usr/bin/env node
// The compiled CLI: `npm install` builds it (the `prepare` script), as does `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('secretsfly: dist/ is missing: run `npm run build` (or `npm install`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
