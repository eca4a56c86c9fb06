import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { markInUse } from '../db/in-use.js';
import { createLogger, type Logger } from '../logger.js';
import { type AppContext, type ContextOverrides, createContext } from '../main.js';
import { createSetupGate } from '../users/setup.js';
import { createApp } from './app.js';
import { resolveSessionSecret } from './session.js';
import { startInstances } from './instances.js';
import { dropEndedWindows } from './rate-limit-store.js';
import { warmUp } from './warm-up.js';
import { createMasterKeyLimiter } from '../keys/master-key-guard.js';

export interface RunningServer {
  readonly url: string;
  readonly ctx: AppContext;
  /** Stops accepting connections, lets in-flight requests finish, seals every root, closes the database. */
  close(): Promise<void>;
}

const GRACE_MS = 10_000;

export async function startServer(
  config: Config,
  options: {
    logger?: Logger;
    overrides?: ContextOverrides;
    announce?: (line: string) => void;
    /** false: no warm-up (the warm-up's own scratch server). */
    warmUp?: boolean;
  } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ctx = await createContext(config, { ...options.overrides, logger });
  const setup = createSetupGate(ctx.users);
  const masterKeyLimiter = createMasterKeyLimiter(
    config.masterKeyAttemptsPerMinute,
    config.masterKeyAttemptsPerTokenPerMinute,
    ctx.limits('master-key'),
  );
  const unsealLimiter = createMasterKeyLimiter(
    config.masterKeyAttemptsPerMinute,
    config.masterKeyAttemptsPerMinute,
    ctx.limits('unseal'),
  );
  const instances =
    ctx.database.engine === 'postgres'
      ? await startInstances({ database: ctx.database, config, logger, now: ctx.now })
      : undefined;
  let url = '';
  const app = createApp({
    ctx,
    logger,
    setup,
    masterKeyLimiter,
    unsealLimiter,
    publicUrl: () => config.publicUrl ?? url,
    sessionSecret: await resolveSessionSecret(config, ctx.database),
    instances,
  });

  let server: import('node:http').Server;
  // While this runs, `restore` refuses to replace the database under it.
  let releaseDataDir = () => {};
  try {
    // On PostgreSQL no DATA_DIR holds data: restore works through the database (cli/commands/admin.ts).
    if (ctx.database.engine === 'sqlite') releaseDataDir = markInUse(config.dataDir);
    server = await new Promise<import('node:http').Server>((resolve, reject) => {
      const listening = app.listen(config.port, config.host, (error?: Error) =>
        error ? reject(error) : resolve(listening),
      );
    });
  } catch (error) {
    releaseDataDir();
    masterKeyLimiter.shutdown();
    unsealLimiter.shutdown();
    app.closeUi();
    await instances?.close();
    await ctx.close();
    throw listenError(error, config);
  }
  const { port } = server.address() as AddressInfo;
  url = `http://${urlHost(config.host)}:${port}`;
  // Before saying it listens: the first real pull then finds its code compiled (warm-up.ts).
  if (options.warmUp !== false) {
    const started = performance.now();
    const { complete } = await warmUp(ctx, startServer);
    logger.debug('pull path warmed up', { ms: Math.round(performance.now() - started), complete });
  }
  logger.info('secretsfly listening', { url, database: ctx.database.location });

  if (await setup.isOpen()) {
    announce(
      config.uiEnabled
        ? `No admin yet. Create the first one (this link works once): ${config.publicUrl ?? url}/setup?token=${setup.token}` +
            // Several instances: only this one knows the token; the others hand the link over here.
            (instances ? `&instance=${instances.self.id}` : '') +
            (config.publicUrl ? '' : ' (set PUBLIC_URL to the address users reach, and this link will use it)')
        : 'No admin yet. The UI is off (UI_ENABLED=false): create one with `secretsfly user create <username>`.',
    );
  }

  // Expired share ciphertexts are destroyed within a minute (every access checks expiry too). With
  // several instances each runs it: under the write lock, the second finds nothing left to expire.
  const { database } = ctx;
  const cleanup = setInterval(() => {
    ctx.shares.expireDue().catch((error: Error) => logger.warn('share cleanup failed', { error: error.name }));
    if (database.engine === 'postgres') {
      dropEndedWindows(database.pool).catch((error: Error) =>
        logger.warn('rate limit cleanup failed', { error: error.name }),
      );
    }
  }, 60_000).unref();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      app.closeWatches();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), GRACE_MS).unref();
      await stopped;
      clearTimeout(force);
      clearInterval(cleanup);
      masterKeyLimiter.shutdown();
      unsealLimiter.shutdown();
      app.closeUi();
      await instances?.close();
      await ctx.close();
      releaseDataDir();
      logger.info('secretsfly stopped: every project sealed, database closed');
    })();
    return closing;
  };
  return { url, ctx, close };
}

/** A wildcard listen address is no address to visit: links name this machine's loopback instead. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** A port that is taken or not ours to bind is a setting to change: say which, and how. */
function listenError(error: unknown, config: Config): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new ConfigError([
      `port ${config.port} on ${config.host} is already in use (another secretsfly?): stop that process, or set PORT to a free port`,
    ]);
  }
  if (code === 'EACCES') {
    return new ConfigError([`port ${config.port} on ${config.host} is not allowed for this user: set PORT above 1023`]);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new ConfigError([
      `HOST ${config.host} is not an address of this machine: set HOST (e.g. 127.0.0.1 or 0.0.0.0)`,
    ]);
  }
  return error;
}
