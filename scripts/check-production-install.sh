#!/usr/bin/env bash
# The Dockerfile's deps + runtime stages, without Docker: copy what the image holds next to a built
# dist/, `npm ci --omit=dev`, start the server and the CLI, and check GET /api/v1/status.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/index.js ] || npm run build

work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r package.json package-lock.json scripts bin views static dist "$work/"
cd "$work"
npm ci --omit=dev --no-fund --no-audit >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
if [ -d node_modules/typescript ] || [ -d node_modules/vitest ]; then echo "a dev dependency was installed"; exit 1; fi
# The native sqlite3 driver (and its tar, with known advisories) and the benchmark's load generator
# have no place in a production install.
for unwanted in sqlite3 tar autocannon; do
  if [ -d "node_modules/$unwanted" ]; then echo "production install holds $unwanted"; exit 1; fi
done

# Every module the server and the CLI ship must load with the production dependencies alone (a
# runtime import of a dev dependency would pass the smoke test below and fail a user later).
node --input-type=module -e "
import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const files = ['dist/src', 'dist/cli'].flatMap((dir) =>
  readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => dir + '/' + f));
for (const file of files) await import(pathToFileURL(file).href);
console.log('production install: ' + files.length + ' modules load');
"

export DATA_DIR="$work/data" PORT=18099 HOST=127.0.0.1
node bin/secretsfly.js project create smoke >/dev/null
node bin/secretsfly.js serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  if status=$(node -e "fetch('http://127.0.0.1:18099/api/v1/status').then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1) }, () => process.exit(1))" 2>/dev/null); then
    echo "production install: $status"
    kill -TERM "$server"; wait "$server"
    exit 0
  fi
  sleep 0.2
done
cat "$work/serve.log"
echo "production install: the server did not answer /api/v1/status"
exit 1
