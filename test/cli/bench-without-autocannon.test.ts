import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';

/**
 * An install without dev dependencies (`npm install --omit=dev`, the Docker image): autocannon,
 * the benchmark's load generator, cannot be found. A resolve hook stands in for its absence, since
 * node_modules here is shared and must stay as it is.
 */
function withoutAutocannon(): Record<string, string> {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
  if (specifier === 'autocannon') {
    const error = new Error("Cannot find package 'autocannon'");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`,
  );
  fs.writeFileSync(
    path.join(dir, 'register.mjs'),
    "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n",
  );
  return { NODE_OPTIONS: `--import=${path.join(dir, 'register.mjs')}` };
}

describe('the CLI without autocannon installed', () => {
  it('should run every other command', async () => {
    const dataDir = tempDir();
    const env = withoutAutocannon();
    const created = await runCli(['project', 'create', 'acme'], { dataDir, env });
    expect(created.code, created.stderr).toBe(0);
    const listed = await runCli(['project', 'list'], { dataDir, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('acme');
    expect((await runCli(['bench', '--help'], { dataDir, env })).code).toBe(0);
  });

  it('should say in one line what bench needs, and write nothing', async () => {
    const out = path.join(tempDir(), 'results');
    const result = await runCli(['bench', '--tiny', '--out', out], { dataDir: tempDir(), env: withoutAutocannon() });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('secretsfly: bench needs autocannon: npm install --no-save autocannon\n');
    expect(fs.existsSync(out)).toBe(false);
  });
});
