import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { actor, engineEnv, FAST_KDF, snapshotDatabase, tempDir } from '../helpers/test-context.js';
import { call } from '../helpers/test-server.js';

describe('the warm-up before a server listens', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("should leave no trace: no scratch folder, nothing in the server's database, no spent allowance", async () => {
    const dataDir = tempDir();
    // Its scratch database goes to the temporary folder: a private one here, to see what is left.
    const scratch = tempDir('secretsfly-tmp-');
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = scratch;

    const logLines: string[] = [];
    server = await startServer(
      loadConfig({
        DATA_DIR: dataDir,
        PORT: '0',
        AVAILABLE_ENVIRONMENTS: 'prod',
        API_RATE_LIMIT_PER_MINUTE: '2',
        ...(await engineEnv(dataDir)),
      }),
      {
        logger: createLogger('debug', (line) => logLines.push(line)),
        announce: () => {},
        overrides: { kdfParams: FAST_KDF },
      },
    ).finally(() => {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
    });
    expect(fs.readdirSync(scratch)).toEqual([]);
    await server.ctx.audit.flush();
    const rows = await snapshotDatabase(dataDir);
    expect(rows.projects).toEqual([]);
    expect(rows.service_tokens).toEqual([]);
    expect((rows.audit_events as { action: string }[]).map((e) => e.action)).not.toContain('token_rejected');
    // It ran to its end (a failure would only be slower, and silent but for this line).
    expect(logLines.join('')).toMatch(/pull path warmed up ms=\d+ complete=true/);
    // The loopback address still has its whole API allowance (2 a minute here).
    const masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    const { token } = await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read' }, actor);
    const pull = () => call(server!, '/api/v1/secrets', { token, masterKey });
    for (let i = 0; i < 2; i++) expect((await pull()).status).toBe(200);
    expect((await pull()).status).toBe(429);
  });
});
