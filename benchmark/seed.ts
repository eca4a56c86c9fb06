import { randomUUID } from 'node:crypto';
import { encryptValue } from '../src/crypto/envelope.js';
import { environmentKey } from '../src/crypto/scoped-keys.js';
import { masterKeyBytes } from '../src/keys/master-key.js';
import { sqliteOf } from '../src/db/open.js';
import type { AppContext } from '../src/main.js';

const actor = { name: 'bench' };

export interface SeedPlan {
  /** Project names from the root down; the first is the root. */
  readonly chain: readonly string[];
  readonly environment: string;
  readonly keysPerProject: number;
  readonly versionsPerKey: number;
  readonly valueBytes: number;
}

/**
 * Creates the projects through the services (so keys are real), then writes the secret versions in
 * one bulk transaction with the product's own encryption and AAD: seeding 100 000 versions through
 * one service call each would measure the seeding, not the scenario.
 */
export async function seedChain(ctx: AppContext, plan: SeedPlan): Promise<{ masterKey: string; versions: number }> {
  const created = await ctx.projects.create({ name: plan.chain[0]! }, actor);
  for (let i = 1; i < plan.chain.length; i++)
    await ctx.projects.create({ name: plan.chain[i]!, parent: plan.chain[i - 1] }, actor);
  const root = await ctx.projects.byName(plan.chain[0]!);
  const environment = await ctx.environments.byName(plan.environment);
  const key = masterKeyBytes(created.masterKey!);
  const dek = await ctx.keys.unlock(await ctx.keys.requireRootKey(root.id), key);
  const valueKey = environmentKey(dek, root.id, environment.id);
  const sqlite = sqliteOf(ctx.database);
  const insertSecret = sqlite.prepare(
    'insert into secrets (id, project_id, environment_id, key, current_version) values (?, ?, ?, ?, ?)',
  );
  const insertVersion = sqlite.prepare(
    "insert into secret_versions (secret_id, version, ciphertext, kind, created_at, created_by) values (?, ?, ?, 'set', ?, 'bench')",
  );
  const at = new Date().toISOString();
  let versions = 0;
  const projects = await Promise.all(plan.chain.map((name) => ctx.projects.byName(name)));
  sqlite.transaction(() => {
    for (const project of projects) {
      for (let k = 0; k < plan.keysPerProject; k++) {
        const id = randomUUID();
        const name = `KEY_${k}`;
        insertSecret.run(id, project.id, environment.id, name, plan.versionsPerKey);
        for (let v = 1; v <= plan.versionsPerKey; v++) {
          const value = `${project.name}:${name}:v${v}:`.padEnd(plan.valueBytes, 'x').slice(0, plan.valueBytes);
          const context = {
            rootId: root.id,
            projectId: project.id,
            environmentId: environment.id,
            key: name,
            version: v,
          };
          insertVersion.run(id, v, encryptValue(valueKey, value, context), at);
          versions += 1;
        }
      }
    }
    sqlite.prepare('update root_keys set revision = revision + 1 where project_id = ?').run(root.id);
  })();
  dek.fill(0);
  valueKey.fill(0);
  key.fill(0);
  return { masterKey: created.masterKey!, versions };
}
