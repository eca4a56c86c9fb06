import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';

/**
 * The server-side mistakes people make most, each answered in one line that says what to do next
 * (issue 15, "Every error names what to do next"). The client-side ones are in login.test.ts
 * (no config, wrong URL, revoked token), client.test.ts (wrong master key over the API),
 * fallback.test.ts (server down, stale copy) and completion.test.ts (a typo in a command); a sealed
 * root in the UI answers 423 with its unseal form in place (test/integration/ui-http.test.ts).
 */
describe('mistakes on the server-side commands', () => {
  let dataDir: string;
  let keyFile: string;

  beforeAll(async () => {
    dataDir = tempDir();
    keyFile = path.join(tempDir(), 'acme.key');
    const created = await runCli(['project', 'create', 'acme', '--master-key-out', keyFile], { dataDir });
    expect(created.code, created.stderr).toBe(0);
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const oneLine = (result: { code: number | null; stdout: string; stderr: string }) => {
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it('should name the project list for a project that does not exist', async () => {
    const result = await runCli(['secret', 'get', 'acme-wbe', 'prod', 'KEY', '--master-key-file', keyFile], {
      dataDir,
    });
    expect(oneLine(result)).toBe(`secretsfly: project "acme-wbe" not found: see 'secretsfly project list'`);
  });

  it('should say where the right master key comes from when it is wrong', async () => {
    const wrong = path.join(tempDir(), 'wrong.key');
    fs.writeFileSync(wrong, `sfmk_${'A'.repeat(43)}\n`, { mode: 0o600 });
    const result = await runCli(['secret', 'set', 'acme', 'prod', 'KEY', 'v', '--master-key-file', wrong], { dataDir });
    expect(oneLine(result)).toContain(
      'invalid master key: use the key printed when the root project was created or last rotated',
    );
  });

  it('should say what to do with a value that is too large, and store nothing', async () => {
    const result = await runCli(['secret', 'set', 'acme', 'prod', 'BIG', '--master-key-file', keyFile], {
      dataDir,
      input: 'a'.repeat(65537),
    });
    expect(oneLine(result)).toBe(
      'secretsfly: the value of BIG is larger than 65536 bytes: keep it in a file the app reads, or raise MAX_SECRET_BYTES on the server',
    );
    const list = await runCli(['secret', 'list', 'acme', 'prod', '--json'], { dataDir });
    expect(list.stdout).not.toContain('BIG');
  });

  it('should suggest the nearest command for a typo', async () => {
    const result = await runCli(['secrte', 'list'], { dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Did you mean secret?');
  });
});
