import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventRow } from '../../src/audit/audit.table.js';
import { GENESIS_HASH, hashEvent } from '../../src/audit/audit-chain.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import {
  actor,
  createTestContext,
  rawSql,
  runCli,
  selectRows,
  snapshotDatabase,
  tempDir,
  writeSql,
} from '../helpers/test-context.js';

// Runs `dist/` through bin/secretsfly.js: `npm run build` first.

const COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'project_id',
  'environment',
  'key',
  'ip',
  'user_agent',
  'details',
  'prev_hash',
  'hash',
] as const;

/** What an attacker with write access to the database does: edit the rows, then re-chain them all. */
async function rewriteChain(dataDir: string, edit: (rows: AuditEventRow[]) => AuditEventRow[]): Promise<void> {
  const rows = await selectRows<AuditEventRow>(dataDir, 'select * from audit_events order by seq');
  let prev = GENESIS_HASH;
  const rechained = edit(rows).map((row, i) => {
    const linked = { ...row, seq: i + 1, prev_hash: prev };
    prev = hashEvent(linked);
    return { ...linked, hash: prev };
  });
  await rawSql(dataDir, 'delete from audit_events');
  for (const row of rechained) {
    await writeSql(
      dataDir,
      `insert into audit_events (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`,
      COLUMNS.map((column) => row[column]),
    );
  }
}

const verify = (dataDir: string, checkpoint?: string) =>
  runCli(['audit', '--verify', ...(checkpoint ? ['--checkpoint', checkpoint] : [])], { dataDir });

describe('secretsfly audit checkpoint', () => {
  let dataDir: string;
  let checkpoint: string;

  beforeEach(async () => {
    const ctx = await createTestContext();
    dataDir = ctx.dataDir;
    const masterKey = (await ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
    await ctx.users.create('admin', 'correct horse battery', actor);
    await ctx.users.signIn('admin', 'a wrong password!', { ip: '203.0.113.9' });
    const root = await ctx.projects.byName('acme');
    await expect(ctx.keys.unseal(root, masterKeyBytes('not-the-master-key'), 'test-session', actor)).rejects.toThrow();
    const access = { masterKey: masterKeyBytes(masterKey) };
    await ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'A', value: 'a' }, access, actor);
    await ctx.secrets.set({ project: 'acme', environment: 'prod', key: 'B', value: 'b' }, access, actor);
    await ctx.close();

    checkpoint = path.join(tempDir(), 'checkpoint.json');
    const taken = await runCli(['audit', 'checkpoint', '--out', checkpoint], { dataDir });
    expect(taken.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(checkpoint, 'utf8'))).toMatchObject({ seq: 6 });
  }, 30_000);

  it('should detect the last events deleted, which the chain alone accepts', async () => {
    await rewriteChain(dataDir, (rows) => rows.slice(0, -2));
    expect((await verify(dataDir)).code).toBe(0);
    const result = await verify(dataDir, checkpoint);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the log has 4 events but the checkpoint of .* saw 6: events were deleted from its end/,
    );
  });

  it('should detect every failure event deleted and the chain recomputed, even padded to the same length', async () => {
    await rewriteChain(dataDir, (rows) => {
      const kept = rows.filter((row) => !row.action.endsWith('_failed'));
      const filler = kept.find((row) => row.action === 'secret_written')!;
      return [...kept, ...Array.from({ length: rows.length - kept.length }, () => filler)];
    });
    expect((await verify(dataDir)).code).toBe(0);
    const result = await verify(dataDir, checkpoint);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/event 6 is not the one the checkpoint of .* saw: the log up to it was rewritten/);
  });

  it('should detect every actor renamed and the chain recomputed', async () => {
    await rewriteChain(dataDir, (rows) => rows.map((row) => ({ ...row, actor: 'system' })));
    expect((await verify(dataDir)).code).toBe(0);
    const result = await verify(dataDir, checkpoint);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/event 6 is not the one .* rewritten/);
  });

  it('should still verify after honest appends', async () => {
    expect((await runCli(['env', 'create', 'qa'], { dataDir })).code).toBe(0);
    const result = await verify(dataDir, checkpoint);
    expect([result.code, result.stdout]).toEqual([
      0,
      'audit log intact: 7 events, and event 6 matches the checkpoint\n',
    ]);
  });

  it('should refuse a file that is no checkpoint with one clear line, changing nothing', async () => {
    const before = await snapshotDatabase(dataDir);
    const bad = path.join(tempDir(), 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ format: 'secretsfly-audit-checkpoint/1', seq: 6, hash: 'abc' }));
    const result = await verify(dataDir, bad);
    expect([result.code, result.stderr.trim()]).toEqual([
      1,
      `secretsfly: ${bad}: not a secretsfly audit checkpoint: "hash" must be 64 hex digits`,
    ]);
    expect(await snapshotDatabase(dataDir)).toEqual(before);
  });

  it('should take no checkpoint of a log that is already altered, nor overwrite an older one', async () => {
    await rewriteChain(dataDir, (rows) => rows);
    await rawSql(dataDir, "update audit_events set actor = 'x' where seq = 2");
    const refused = await runCli(['audit', 'checkpoint'], { dataDir });
    expect([refused.code, refused.stdout]).toEqual([1, '']);
    expect(refused.stderr).toMatch(/audit log altered, no checkpoint taken: event 2 was altered/);
    const again = await runCli(['audit', 'checkpoint', '--out', checkpoint], { dataDir });
    expect(again.code).toBe(1);
  });
});
