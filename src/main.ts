import os from 'node:os';
import { createAuditService } from './audit/audit.service.js';
import type { Config } from './config.js';
import { createKdf, type Kdf, type KdfParams } from './crypto/kdf.js';
import { migrateToLatest } from './db/migrate.js';
import { type DatabaseHandle, type OpenOptions, openConfiguredDatabase, truncateWal } from './db/open.js';
import { assertSecretsflyDatabase, unreachablePostgres } from './db/postgres.js';
import { limitStores } from './http/rate-limit-store.js';
import { createEnvironmentService } from './environments/environment.service.js';
import { createKeyService } from './keys/key.service.js';
import { createLogger, errorSummary, type Logger } from './logger.js';
import { Keystore } from './keys/keystore.js';
import { createRotationService } from './keys/rotation.service.js';
import { createProjectService } from './projects/project.service.js';
import { createAccessLogService } from './secrets/access-log.service.js';
import { createSecretService } from './secrets/secret.service.js';
import { createHostHeldService } from './agents/host-held.service.js';
import { createShareService } from './shares/share.service.js';
import { createTokenService } from './tokens/token.service.js';
import { createUserService } from './users/user.service.js';

export interface ContextOverrides {
  readonly now?: () => Date;
  readonly kdf?: Kdf;
  /** Cost of the KDF for new root keys and passwords (tests and benchmarks only; stored per root). */
  readonly kdfParams?: KdfParams;
  /** Where background failures (an audit batch that could not be written) are reported; stderr by default. */
  readonly logger?: Logger;
}

/**
 * The composition root: config → database (migrated, environments ensured) → keystore → services.
 * The server, the CLI and the tests all build the application through this one function. `open`
 * says whether a missing database may be created (the CLI allows it only for a few commands).
 */
export async function createContext(config: Config, overrides: ContextOverrides = {}, open: OpenOptions = {}) {
  const now = overrides.now ?? (() => new Date());
  const database: DatabaseHandle = openConfiguredDatabase(config, open);
  try {
    if (database.engine === 'postgres' && open.create === false) await assertSecretsflyDatabase(database);
    await migrateToLatest(database.db);
  } catch (error) {
    await database.close();
    throw config.databaseUrl === undefined ? error : unreachablePostgres(error, config.databaseUrl);
  }
  const { db } = database;
  const kdf = overrides.kdf ?? createKdf({ concurrency: Math.max(1, Math.min(2, os.availableParallelism())) });

  // stderr by default: a CLI command's stdout is its output (--json), not a log.
  const logger = overrides.logger ?? createLogger(config.logLevel, (line) => process.stderr.write(line));
  const audit = createAuditService({ db, now, logger });
  const system = { name: 'system' };
  const keystore = new Keystore({
    ttlMs: config.masterKeyExpirationSeconds * 1000,
    // Expiry reads the same clock as every service, so a test's fake clock expires keys too.
    now: () => now().getTime(),
    onExpired: (rootId) => {
      audit
        .recordAlone({ actor: system, action: 'auto_seal', projectId: rootId })
        .catch((error: unknown) => logger.error('auto_seal audit event not written', errorSummary(error)));
    },
  });
  const environments = createEnvironmentService({ db, audit, now });
  await environments.ensure(config.availableEnvironments);

  const keys = createKeyService({
    db,
    changes: database.changes,
    kdf,
    keystore,
    audit,
    now,
    ...(overrides.kdfParams && { kdfParams: overrides.kdfParams }),
  });
  const projects = createProjectService({ db, keys, keystore, audit, now });
  const secrets = createSecretService({
    db,
    projects,
    environments,
    keys,
    keystore,
    audit,
    now,
    maxSecretBytes: config.maxSecretBytes,
  });
  // PostgreSQL keeps replaced rows until VACUUM and in its WAL by the operator's settings: nothing a
  // query can empty at once (docs/crypto.md, "PostgreSQL").
  const scrub = () => (database.engine === 'sqlite' ? truncateWal(database.sqlite) : true);
  const tokens = createTokenService({
    db,
    changes: database.changes,
    projects,
    environments,
    keys,
    secrets,
    keystore,
    audit,
    now,
    scrub,
  });
  const rotation = createRotationService({ db, projects, keys, secrets, tokens, keystore, audit, now, scrub });
  const users = createUserService({ db, kdf, audit, now });
  const shares = createShareService({ db, audit, now, maxBytes: config.shareMaxBytes });
  const hostHeld = createHostHeldService({ db, projects, environments, keys, audit, now });
  const accessLog = createAccessLogService({ db, projects, environments });

  let closed = false;
  return {
    config,
    /** The clock every service reads (a test's fake clock); admin sessions expire by it too. */
    now,
    database,
    kdf,
    keystore,
    audit,
    environments,
    keys,
    projects,
    secrets,
    rotation,
    tokens,
    users,
    shares,
    /** Titles of secrets held on app hosts, never their values (src/agents). */
    hostHeld,
    /** Who received or revealed each key's value (src/secrets/access-log.service.ts). */
    accessLog,
    /** The store of each named rate limit: shared through PostgreSQL, else in memory (rate-limit-store.ts). */
    limits: limitStores(database.engine === 'postgres' ? database.pool : undefined),
    /** Compiles the pull path's queries (a server calls it before its first request: http/warm-up.ts). */
    async warmUp(): Promise<void> {
      // A lookup that misses keeps nothing (immutable-rows.ts): these only compile their queries.
      const miss = () => undefined;
      await Promise.all([
        tokens.warmUp(),
        keys.warmUp(),
        secrets.warmUp(),
        projects.byId('warm-up').catch(miss),
        environments.byId('warm-up').catch(miss),
      ]);
    },
    /** Seals every root (wiping keys) and closes the database. */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      keystore.sealAll();
      await tokens.flushTouches();
      await audit.flush();
      await database.close();
    },
  };
}

export type AppContext = Awaited<ReturnType<typeof createContext>>;
