import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';
import { agentHost } from '../helpers/agent-host.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Attacks on this round's CLI (run --files, host-held secrets), kept as the tests that showed them. */

describe('attack round 3 (CLI)', () => {
  let server: TestServer;
  let env: Record<string, string>;
  const PEM = '-----BEGIN PRIVATE KEY-----\nhost-only-key-material\n-----END PRIVATE KEY-----';

  beforeAll(async () => {
    server = await startTestServer();
    const host = await agentHost(server);
    env = {
      ...host.env,
      SECRETSFLY_STATE_DIR: tempDir(),
      AGENT_DATA_DIR: path.join(tempDir(), 'agent'),
      AGENT_NAME: 'web-1',
      XDG_RUNTIME_DIR: tempDir(),
    };
  });
  afterAll(async () => {
    await server.close();
  });

  it('should put a host-held key or certificate in a private file with run --files, never inline', async () => {
    // The attack: README's own `agent secrets add TLS_KEY --type certificate --from-file app.key`, then
    // `run --files`: TLS_KEY went into the child's environment (and every process it starts) as text.
    const added = await runCli(['agent', 'secrets', 'add', 'TLS_KEY', '--type', 'certificate'], {
      dataDir: '',
      env,
      input: PEM,
    });
    expect(added.code, added.stderr).toBe(0);
    const show = `const f = process.env.TLS_KEY_FILE; process.stdout.write(JSON.stringify({ inline: process.env.TLS_KEY ?? null, file: f ?? null, content: f ? require('fs').readFileSync(f, 'utf8') : null, mode: f ? require('fs').statSync(f).mode & 0o777 : null }))`;
    const run = await runCli(['run', '--files', '--', process.execPath, '-e', show], { dataDir: '', env });
    expect(run.code, run.stderr).toBe(0);
    const seen = JSON.parse(run.stdout) as {
      inline: string | null;
      file: string | null;
      content: string;
      mode: number;
    };
    expect(seen.inline).toBeNull();
    expect(seen.file).not.toBeNull();
    expect(seen.content).toBe(`${PEM}\n`);
    expect(seen.mode).toBe(0o600);
    expect(fs.existsSync(seen.file!)).toBe(false);

    // Without --files it is the variable it always was.
    const plain = await runCli(['run', '--', process.execPath, '-e', show], { dataDir: '', env });
    expect(JSON.parse(plain.stdout).inline).toBe(PEM);
  });
});
