import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { type AppContext, type ContextOverrides, createContext } from '../main.js';
import { createSetupGate } from '../users/setup.js';
import { createApp } from './app.js';
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
  options: { logger?: Logger; overrides?: ContextOverrides; announce?: (line: string) => void } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ctx = await createContext(config, options.overrides);
  const setup = createSetupGate(ctx.users);
  const masterKeyLimiter = createMasterKeyLimiter(config.masterKeyAttemptsPerMinute);
  const unsealLimiter = createMasterKeyLimiter(config.masterKeyAttemptsPerMinute);
  let url = '';
  const app = createApp({
    ctx,
    logger,
    setup,
    masterKeyLimiter,
    unsealLimiter,
    publicUrl: () => config.publicUrl ?? url,
  });

  const server = await new Promise<import('node:http').Server>((resolve, reject) => {
    const listening = app.listen(config.port, config.host, (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  url = `http://${host}:${port}`;
  logger.info('secretsfly listening', { url, data_dir: config.dataDir });

  if (await setup.isOpen()) {
    announce(
      config.uiEnabled
        ? `No admin yet. Create the first one (this link works once): ${url}/setup?token=${setup.token}`
        : 'No admin yet. The UI is off (UI_ENABLED=false): create one with `secretsfly user create <username>`.',
    );
  }

  // Expired share ciphertexts are destroyed within a minute (every access checks expiry too).
  const cleanup = setInterval(() => {
    ctx.shares.expireDue().catch((error: Error) => logger.warn('share cleanup failed', { error: error.name }));
  }, 60_000).unref();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), GRACE_MS).unref();
      await stopped;
      clearTimeout(force);
      clearInterval(cleanup);
      masterKeyLimiter.shutdown();
      unsealLimiter.shutdown();
      app.closeUi();
      await ctx.close();
      logger.info('secretsfly stopped: every project sealed, database closed');
    })();
    return closing;
  };
  return { url, ctx, close };
}
