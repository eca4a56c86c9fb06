/**
 * The audit page's data work with a large log: `node dist/benchmark/audit-page.js [events]` after
 * `npm run build` (default 1,000,000 events). Not part of `secretsfly bench`.
 *
 * The log is written straight into SQLite (one transaction, one prepared statement) with a correct
 * chain from the product's own audit-chain.ts: a million events through the service would measure
 * the seeding. Timed: what GET /audit does (audit.list of the newest 200, plus its verification),
 * and the full walk of `secretsfly audit --verify`, with the longest event-loop stall during each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHAIN_START, type ChainPoint, linkEvents, toUnchainedRow } from '../src/audit/audit-chain.js';
import type { AuditEvent } from '../src/audit/audit-types.js';
import { loadConfig } from '../src/config.js';
import { sqliteOf, writeTransaction } from '../src/db/open.js';
import { createContext } from '../src/main.js';
import { figure, round, timed } from './stats.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const WARM_VIEWS = 20;

function eventAt(i: number, projectIds: readonly string[]): AuditEvent {
  const token = `tok${(i % 40).toString(16).padStart(13, '0')}`;
  const projectId = projectIds[i % projectIds.length]!;
  const actor = { name: `token:${token}`, ip: `10.0.${(i >> 8) & 255}.${i & 255}`, userAgent: 'secretsfly-cli/0.1.0' };
  if (i % 10 !== 0) {
    return {
      actor,
      action: 'api_read',
      projectId,
      environment: 'prod',
      details: { token_id: token, format: 'json', keys: 50, count: 1 + (i % 7) },
    };
  }
  return {
    actor: { name: 'user:admin', ip: '10.1.0.1', userAgent: 'Mozilla/5.0' },
    action: 'secret_written',
    projectId,
    environment: 'prod',
    key: `KEY_${i % 500}`,
    details: { version: 1 + Math.floor(i / 5000) },
  };
}

/** Longest gap between timer ticks while `fn` runs: how long the server could not answer anyone. */
async function withStall<T>(fn: () => Promise<T>): Promise<{ ms: number; stallMs: number; result: T }> {
  let last = performance.now();
  let stall = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  const { ms, result } = await timed(fn);
  clearInterval(ticker);
  stall = Math.max(stall, performance.now() - last);
  return { ms, stallMs: stall, result };
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-audit-'));
  const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, AVAILABLE_ENVIRONMENTS: 'prod' }), {
    kdfParams: { alg: 'scrypt', v: 1, N: 2 ** 12, r: 8, p: 1 },
  });
  try {
    const projectIds: string[] = [];
    for (const name of ['acme', 'globex', 'initech']) {
      projectIds.push((await ctx.projects.create({ name }, { name: 'bench' })).project.id);
    }
    const sqlite = sqliteOf(ctx.database);
    const insert = sqlite.prepare(
      `insert into audit_events (seq, at, actor, action, project_id, environment, key, ip, user_agent, details, prev_hash, hash)
       values (@seq, @at, @actor, @action, @project_id, @environment, @key, @ip, @user_agent, @details, @prev_hash, @hash)`,
    );
    const seeded = await timed(() => {
      const start = sqlite.prepare('select seq, hash from audit_events order by seq desc limit 1').get() as
        ChainPoint | undefined;
      let last = start ?? CHAIN_START;
      const at = new Date().toISOString();
      sqlite.transaction(() => {
        for (let i = 0; i < EVENTS; i += 10_000) {
          const batch = Array.from({ length: Math.min(10_000, EVENTS - i) }, (_, j) =>
            toUnchainedRow(eventAt(i + j, projectIds), at),
          );
          for (const row of linkEvents(last, batch)) {
            insert.run(row);
            last = row;
          }
        }
      })();
      return last.seq;
    });
    const events = seeded.result;
    const sizeMiB = fs.statSync(path.join(dataDir, 'secretsfly.db')).size / 2 ** 20;
    console.log(
      `seeded ${events.toLocaleString('en-US')} events in ${round(seeded.ms / 1000, 1)} s (${round(sizeMiB, 0)} MiB)`,
    );

    const list = () => ctx.audit.list({ limit: 200 });
    const page = (audit: typeof ctx.audit, verification: () => Promise<unknown>) =>
      withStall(async () => {
        await audit.list({ limit: 200 });
        return verification();
      });

    const report = (label: string, runs: { ms: number; stallMs: number }[]) => {
      const time = figure(
        'ms',
        runs.map((r) => r.ms),
      );
      const stall = figure(
        'ms',
        runs.map((r) => r.stallMs),
      );
      console.log(
        `${label.padEnd(58)} median ${round(time.median, 1)} ms (${round(time.min, 1)}–${round(time.max, 1)}, ${runs.length} runs); longest stall ${round(stall.max, 1)} ms`,
      );
    };

    report('audit.list (newest 200) alone', [await withStall(list), await withStall(list), await withStall(list)]);
    const projectFilter = [projectIds[0]!];
    report('audit.list, one project', [
      await withStall(() => ctx.audit.list({ limit: 200, projectIds: projectFilter })),
    ]);
    report('audit.list, action=secret_written (1 in 10)', [
      await withStall(() => ctx.audit.list({ limit: 200, action: 'secret_written' })),
    ]);
    report('audit.list, action=login (rare)', [await withStall(() => ctx.audit.list({ limit: 200, action: 'login' }))]);

    const before = await page(ctx.audit, () => ctx.audit.verify());
    console.log(`  (the full walk found ${JSON.stringify(before.result)})`);
    report('page view as before: list + full verify', [before]);

    // A fresh service, as after a restart: nothing verified yet in this process.
    await ctx.close();
    const fresh = await createContext(loadConfig({ DATA_DIR: dataDir, AVAILABLE_ENVIRONMENTS: 'prod' }));
    try {
      const cold = await page(fresh.audit, () => fresh.audit.verifyIncrementally());
      report('page view, first after start: list + incremental (all)', [cold]);
      const warm = [];
      for (let i = 0; i < WARM_VIEWS; i++) warm.push(await page(fresh.audit, () => fresh.audit.verifyIncrementally()));
      report('page view, nothing new: list + incremental', warm);
      const newer = [];
      for (let i = 0; i < 5; i++) {
        const batch = Array.from({ length: 1000 }, (_, j) => eventAt(j, projectIds));
        await writeTransaction(fresh.database.db, (trx) => fresh.audit.record(trx, ...batch));
        newer.push(await page(fresh.audit, () => fresh.audit.verifyIncrementally()));
      }
      report('page view, 1,000 new events: list + incremental', newer);
      const full = [];
      for (let i = 0; i < 3; i++) full.push(await withStall(() => fresh.audit.verify()));
      report('full verify (secretsfly audit --verify)', full);
      console.log(`  (last incremental: ${JSON.stringify(newer.at(-1)!.result)})`);
    } finally {
      await fresh.close();
    }
  } finally {
    await ctx.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
