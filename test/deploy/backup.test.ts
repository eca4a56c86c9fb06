import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor, FAST_KDF, runCli, tempDir } from '../helpers/test-context.js';
import { call, startTestServer } from '../helpers/test-server.js';

describe('backup and restore under load', () => {
  it('should back up while the API writes, restore into a new DATA_DIR, and read every secret back', async () => {
    const server = await startTestServer();
    const masterKey = (await server.ctx.projects.create({ name: 'live' }, actor)).masterKey!;
    const { token } = await server.ctx.tokens.create(
      { project: 'live', environment: 'prod', access: 'read_write' },
      actor,
    );
    const valueOf = (i: number) => `value-${i}-${'x'.repeat(i % 50)}`;
    const acknowledged = new Set<number>();
    let next = 0;
    let writing = true;
    const writer = async () => {
      while (writing) {
        const i = next++;
        const res = await call(server, `/api/v1/secrets/KEY_${i}`, {
          method: 'PUT',
          token,
          masterKey,
          body: { value: valueOf(i) },
        });
        if (res.status === 200) acknowledged.add(i);
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const beforeBackup = new Set(acknowledged);
      const backupFile = path.join(tempDir(), 'live.backup');
      const backup = await runCli(['backup', backupFile], { dataDir: server.dataDir });
      expect(backup.code, backup.stderr).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      writing = false;
      await Promise.all(writers);
      expect(acknowledged.size).toBeGreaterThan(beforeBackup.size);

      const restoredDir = tempDir();
      const restore = await runCli(['restore', backupFile], { dataDir: restoredDir });
      expect(restore.code, restore.stderr).toBe(0);
      const restored = await createContext(loadConfig({ DATA_DIR: restoredDir }), { kdfParams: FAST_KDF });
      try {
        const secrets = await restored.secrets.resolve(
          { project: 'live', environment: 'prod' },
          { masterKey: masterKeyBytes(masterKey) },
        );
        // Everything acknowledged before the backup began is in it, and every value in it is exact.
        for (const i of beforeBackup) expect(secrets.get(`KEY_${i}`)?.value).toBe(valueOf(i));
        for (const [key, secret] of secrets) expect(secret.value).toBe(valueOf(Number(key.slice(4))));
        expect(await restored.audit.verify()).toMatchObject({ ok: true });
      } finally {
        await restored.close();
      }
      expect(fs.statSync(backupFile).mode & 0o077).toBe(0);
    } finally {
      writing = false;
      await Promise.all(writers);
      await server.close();
    }
  });
});
