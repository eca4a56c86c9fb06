import { openConfiguredDatabase } from '../src/db/open.js';
import { figure, type Figure } from './stats.js';

const BATCHES = 5;
const CONCURRENT = 10;

/**
 * What PostgreSQL's coherence check costs a request, measured in this process over the database at
 * `databaseUrl` (no HTTP): `changes.arrived(); await changes.stamp()` repeated `checks` times, one
 * stamp round trip each, as a server does for a request that arrives alone → µs per check; then the
 * same with 10 callers awaiting the stamp after each arrival (they share one read) → µs per caller.
 * Each figure is over 5 batches, after one batch of warm-up (the pool's connections, the prepared
 * statement).
 */
export async function stampCost(
  databaseUrl: string,
  dataDir: string,
  checks: number,
): Promise<{ single: Figure; coalesced: Figure }> {
  const handle = openConfiguredDatabase({ dataDir, databaseUrl });
  try {
    const { changes } = handle;
    const single = async () => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < checks; i++) {
        changes.arrived();
        await changes.stamp();
      }
      return Number(process.hrtime.bigint() - start) / 1e3 / checks;
    };
    const coalesced = async () => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < checks; i++) {
        changes.arrived();
        await Promise.all(Array.from({ length: CONCURRENT }, () => changes.stamp()));
      }
      return Number(process.hrtime.bigint() - start) / 1e3 / (checks * CONCURRENT);
    };
    const batches = async (run: () => Promise<number>) => {
      await run();
      const runs: number[] = [];
      for (let batch = 0; batch < BATCHES; batch++) runs.push(await run());
      return figure('µs', runs);
    };
    return { single: await batches(single), coalesced: await batches(coalesced) };
  } finally {
    await handle.close();
  }
}
