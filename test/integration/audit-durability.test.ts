import { describe, expect, it } from 'vitest';
import { runCli, selectRows, tempDir } from '../helpers/test-context.js';
import { call, spawnServe } from '../helpers/test-server.js';

// Runs `dist/` through bin/secretsfly.js: `npm run build` first.
describe('audit events of acknowledged API writes', () => {
  it('should have an api_write event for every acknowledged write after kill -9 during a burst', async () => {
    const dataDir = tempDir();
    const masterKey = (await runCli(['project', 'create', 'acme'], { dataDir })).stdout.trim();
    const token = (
      await runCli(['token', 'create', 'acme', 'prod', '--write', '--classic'], { dataDir })
    ).stdout.trim();
    const { child, url } = await spawnServe(dataDir);
    const exited = new Promise((resolve) => child.on('exit', resolve));

    const acknowledged: { key: string; version: number }[] = [];
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        try {
          const answer = await call({ url }, `/api/v1/secrets/K_${w}_${i}`, {
            method: 'PUT',
            token,
            masterKey,
            body: { value: `v${i}` },
          });
          if (answer.status === 200) acknowledged.push(answer.json);
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const workers = [0, 1, 2, 3, 4, 5].map(worker);
    while (acknowledged.length < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    // The attacker's (or the power cut's) moment: in the middle of the burst, no chance to flush.
    child.kill('SIGKILL');
    killed = true;
    await exited;
    await Promise.all(workers);

    const events = await selectRows<{ key: string; details: string }>(
      dataDir,
      "select key, details from audit_events where action = 'api_write'",
    );
    const audited = new Set(events.map((e) => `${e.key}@${JSON.parse(e.details).version}`));
    const missing = acknowledged.filter((w) => !audited.has(`${w.key}@${w.version}`));
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);
    expect(missing).toEqual([]);
  }, 60_000);
});
