import { createHash } from 'node:crypto';
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type { AccessTables } from '../audit/secret-access.js';
import { InvalidRequest } from '../errors.js';
import { errorSummary } from '../logger.js';
import type { Database } from './database.js';
import { writeTransaction } from './open.js';

/**
 * Copies a whole secretsfly database from one engine to another (SQLite → PostgreSQL for `copy` and
 * `restore`, PostgreSQL → SQLite for `backup`): every table the application keeps, row for row and
 * byte for byte, all or nothing. Migration bookkeeping, PostgreSQL's own tables (change stamp,
 * sessions, limits, settings, instances) and the agents' sync signatures are the target's and are
 * not copied.
 */

/** Every table, parents before children (foreign-key order); each with its primary key. */
const TABLES = [
  { name: 'environments', key: ['id'] },
  { name: 'projects', key: ['id'] },
  { name: 'root_keys', key: ['project_id'] },
  { name: 'secrets', key: ['id'] },
  { name: 'secret_versions', key: ['secret_id', 'version'] },
  { name: 'service_tokens', key: ['id'] },
  { name: 'users', key: ['id'] },
  { name: 'audit_events', key: ['seq'] },
  { name: 'shares', key: ['id'] },
  // The access log: derived from the audit events, but not rebuilt from them, so copied with them.
  { name: 'secret_access', key: ['project_id', 'environment_id', 'key', 'actor', 'via'] },
  { name: 'secret_access_keysets', key: ['sha256'] },
  // Titles of host-held secrets: without them a restored server would take writes of held names until
  // every agent synced again. The sync signatures (a 5-minute replay memory) are the target's own.
  { name: 'host_held_secrets', key: ['id'] },
] as const satisfies readonly {
  name: keyof Database | keyof AccessTables | 'host_held_secrets';
  key: readonly string[];
}[];

export type CopiedTable = (typeof TABLES)[number]['name'];
export const COPIED_TABLES: readonly CopiedTable[] = TABLES.map((table) => table.name);
export type CopyCounts = Record<CopiedTable, number>;

/**
 * Rows read and inserted at once. The widest table has 13 columns: 200 rows bind 2,600 parameters,
 * far under PostgreSQL's 65,535 and SQLite's 32,766, and keep a page of large ciphertexts in memory.
 */
const PAGE = 200;

type Row = Record<string, unknown>;

export interface CopyOptions {
  /** Empty the target's tables first (restore --force), in the same transaction; else they must be empty. */
  readonly replace?: boolean;
}

/**
 * Copies `source` into `target` inside one write transaction on the target, reading the source in
 * one consistent snapshot. Both must be migrated to the same version. Before committing, every
 * table's row count and a digest of every row are compared between the two; any difference, like
 * any failed insert, rolls the target back to exactly what it was. `onProgress` hears of the rows
 * inserted, of all the source's rows (counted first, only for it).
 */
export async function copyDatabase(
  source: Kysely<Database>,
  target: Kysely<Database>,
  options: CopyOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<CopyCounts> {
  return writeTransaction(target, (to) =>
    readSnapshot(source, async (from) => {
      await sameMigrations(from, to);
      if (options.replace) {
        for (const { name } of [...TABLES].reverse()) await sql`delete from ${sql.table(name)}`.execute(to);
      } else {
        for (const { name } of TABLES) {
          const { rows } = await sql`select 1 from ${sql.table(name)} limit 1`.execute(to);
          if (rows.length > 0) {
            throw new TargetNotEmpty(name);
          }
        }
      }
      const counts = {} as CopyCounts;
      const progress = onProgress && { done: 0, total: await countRows(from), report: onProgress };
      for (const table of TABLES) {
        let sent: TableDigest;
        try {
          sent = await copyTable(from, to, table, progress);
        } catch (error) {
          throw copyFailed(table.name, error);
        }
        const found = await digestTable(to, table);
        if (found.rows !== sent.rows || found.sum !== sent.sum) {
          throw new InvalidRequest(
            `the copy of table ${table.name} does not match its source (${sent.rows} rows sent, ${found.rows} found, or their bytes differ); nothing was copied`,
          );
        }
        counts[table.name] = sent.rows;
      }
      return counts;
    }),
  );
}

/** The target holds data already: nothing is copied over it (unless `replace`). */
export class TargetNotEmpty extends InvalidRequest {
  constructor(readonly table: string) {
    super(`the target database is not empty: table ${table} has rows; nothing was copied`);
  }
}

/** Runs `fn` in one read snapshot of `db`: a read-only REPEATABLE READ transaction, or SQLite's read transaction. */
async function readSnapshot<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
  }
  return db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    try {
      return await fn(conn);
    } finally {
      await sql`rollback`.execute(conn);
    }
  });
}

/** A table copied into a database at another version would lose or invent columns: refused. */
async function sameMigrations(from: Kysely<Database>, to: Kysely<Database>): Promise<void> {
  const applied = async (db: Kysely<Database>) => {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    return rows.map((row) => row.name);
  };
  const [source, target] = [await applied(from), await applied(to)];
  if (source.join('\n') !== target.join('\n')) {
    throw new InvalidRequest(
      `the source database is at migration ${source.at(-1) ?? '(none)'} and the target at ${target.at(-1) ?? '(none)'}: migrate both to the same version first; nothing was copied`,
    );
  }
}

interface TableDigest {
  rows: number;
  /** The sum of every row's SHA-256 modulo 2^256: independent of the order the engines sort text in. */
  sum: bigint;
}

const MODULUS = 1n << 256n;

async function copyTable(
  from: Kysely<Database>,
  to: Kysely<Database>,
  table: (typeof TABLES)[number],
  progress?: { done: number; total: number; report: (done: number, total: number) => void },
): Promise<TableDigest> {
  const digest: TableDigest = { rows: 0, sum: 0n };
  const insert = async (rows: Row[]) => {
    for (const row of rows) add(digest, row, table.name);
    for (let i = 0; i < rows.length; i += PAGE) {
      const page = rows.slice(i, i + PAGE);
      await insertRows(to, table.name, page);
      if (progress) progress.report((progress.done += page.length), progress.total);
    }
  };
  if (table.name === 'projects') {
    // A project refers to its parent: parents go first, whatever the order of their ids.
    await insert(parentsFirst(await selectAll(from, table.name)));
  } else {
    for await (const page of pages(from, table)) await insert(page);
  }
  return digest;
}

async function digestTable(db: Kysely<Database>, table: (typeof TABLES)[number]): Promise<TableDigest> {
  const digest: TableDigest = { rows: 0, sum: 0n };
  for await (const page of pages(db, table)) for (const row of page) add(digest, row, table.name);
  return digest;
}

/** Every row of `table`, a page at a time, in primary-key order (keyset paging: no OFFSET scans). */
async function* pages(db: Kysely<Database>, table: (typeof TABLES)[number]): AsyncGenerator<Row[]> {
  const key = sql.join(table.key.map((column) => sql.ref(column)));
  let last: Row | undefined;
  for (;;) {
    const after = last ? sql`where (${key}) > (${sql.join(table.key.map((column) => last![column]))})` : sql``;
    const { rows } = await sql<Row>`
      select * from ${sql.table(table.name)} ${after} order by ${key} limit ${PAGE}`.execute(db);
    if (rows.length > 0) yield rows;
    if (rows.length < PAGE) return;
    last = rows.at(-1);
  }
}

/** Every row of every table copied, for a progress bar's total. */
async function countRows(db: Kysely<Database>): Promise<number> {
  let total = 0;
  for (const { name } of TABLES) {
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(name)}`.execute(db);
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}

async function selectAll(db: Kysely<Database>, table: string): Promise<Row[]> {
  return (await sql<Row>`select * from ${sql.table(table)}`.execute(db)).rows;
}

async function insertRows(db: Kysely<Database>, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const values = rows.map((row) => sql`(${sql.join(columns.map((column) => row[column]))})`);
  await sql`insert into ${sql.table(table)} (${sql.join(columns.map((column) => sql.ref(column)))})
    values ${sql.join(values)}`.execute(db);
}

function parentsFirst(projects: Row[]): Row[] {
  const ordered: Row[] = [];
  const placed = new Set<unknown>();
  let waiting = projects;
  while (waiting.length > 0) {
    const ready = waiting.filter((p) => p.parent_id === null || placed.has(p.parent_id));
    // A parent that does not exist (or a cycle): inserted as it is, for the target to refuse.
    const next = ready.length > 0 ? ready : waiting;
    for (const project of next) placed.add(project.id);
    ordered.push(...next);
    waiting = waiting.filter((p) => !placed.has(p.id));
  }
  return ordered;
}

/**
 * Adds one row's digest: every column by name, each value tagged with its type, so a number that
 * came back as text, a NULL that became '' or a changed byte all count as differences.
 */
function add(digest: TableDigest, row: Row, table: string): void {
  const hash = createHash('sha256');
  for (const name of Object.keys(row).sort()) {
    const value = row[name];
    hash.update(`${name}=`);
    if (value === null) hash.update('n;');
    else if (Buffer.isBuffer(value)) hash.update(`b${value.length}:`).update(value);
    else if (typeof value === 'number') hash.update(`i${value};`);
    else if (typeof value === 'string') hash.update(`s${Buffer.byteLength(value)}:`).update(value);
    else throw new Error(`unexpected ${typeof value} in ${table}.${name}`);
  }
  digest.rows += 1;
  digest.sum = (digest.sum + BigInt(`0x${hash.digest('hex')}`)) % MODULUS;
}

/**
 * A table that could not be copied, most often a row the target refused (a value longer than its
 * column, which SQLite does not enforce, or a byte PostgreSQL's text cannot hold): one line naming
 * the table, never the row's data.
 */
function copyFailed(table: string, error: unknown): unknown {
  if (error instanceof InvalidRequest) return error;
  const { code } = error as { code?: unknown };
  // errorSummary drops anything quoted: PostgreSQL quotes the value it could not take.
  const why = errorSummary(error).message;
  return new InvalidRequest(
    `copying table ${table} failed: ${why}${typeof code === 'string' ? ` (${code})` : ''}; nothing was copied`,
  );
}
