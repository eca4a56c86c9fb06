import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from '../logger.js';
import type { AppContext } from '../main.js';
import { mountSecretApi } from '../secrets/secret.api.js';
import { mountHostHeldApi } from '../agents/host-held.api.js';
import { mountWatchApi } from '../secrets/watch.api.js';
import { createWatchService } from '../secrets/watch.service.js';
import type { SetupGate } from '../users/setup.js';
import { VERSION } from '../version.js';
import type { MasterKeyLimiter } from '../keys/master-key-guard.js';
import { apiRequestRules, apiSecurityHeaders, authenticateApi } from './middleware/api-auth.js';
import { mountUi } from './ui.js';
import { createSessionMiddleware } from './session.js';
import { shareApiRouter } from '../shares/share.api.js';
import { createShareNotifier } from '../shares/share-notice.js';
import { slackRouter } from '../integrations/slack.js';
import { errorHandler, notFound, requestLogger } from './middleware/error-handler.js';
import { limiter } from './middleware/rate-limit.js';
import { htmlErrorAnswer } from '../ui/ui-kit.js';
import type { Instances } from './instances.js';
import { claimOnce } from './rate-limit-store.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface AppDeps {
  readonly ctx: AppContext;
  readonly logger: Logger;
  readonly setup: SetupGate;
  readonly masterKeyLimiter: MasterKeyLimiter;
  /** Wrong master keys per admin and root in the UI (same rule as the API's per token). */
  readonly unsealLimiter: MasterKeyLimiter;
  /** Where users reach this server: PUBLIC_URL, else the address it listens on. */
  readonly publicUrl: () => string;
  /** The cookie signing secret, the same on every instance (session.ts: resolveSessionSecret). */
  readonly sessionSecret: string;
  /** Several instances on PostgreSQL: admin pages follow the unseal (instances.ts). */
  readonly instances?: Instances | undefined;
}

/** The Express application, without listening (tests and `serve` both start it on a port). */
export function createApp({
  ctx,
  logger,
  setup,
  masterKeyLimiter,
  unsealLimiter,
  publicUrl,
  sessionSecret,
  instances,
}: AppDeps): Express & { closeUi(): void; closeWatches(): void } {
  const { config } = ctx;
  const app = express();
  app.disable('x-powered-by');
  // An ETag is a hash of the body: for a response carrying secrets, an offline guess at its values.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy ? 1 : false);
  // PostgreSQL: a change stamp read before this request arrived may not answer it (db/postgres.ts).
  if (ctx.database.engine === 'postgres') {
    const { changes } = ctx.database;
    app.use((_req, _res, next) => {
      changes.arrived();
      next();
    });
  }
  // Only when asked for: a listener on every response is measurable on the API's hot path.
  if (config.logLevel === 'debug') app.use(requestLogger(logger));
  // The service-token API comes first: a pull is the hottest request, and JSON needs only the
  // headers OWASP's REST guidance lists (apiSecurityHeaders), not helmet's set for HTML pages.
  const apiRules = apiRequestRules(MAX_BODY_BYTES);
  const apiRateLimit =
    config.apiRequestsPerMinute > 0
      ? limiter({ windowSeconds: 60, limit: config.apiRequestsPerMinute, store: ctx.limits('api') })
      : undefined;
  const apiGuards = [
    apiSecurityHeaders,
    apiRules,
    ...(apiRateLimit ? [apiRateLimit] : []),
    authenticateApi({ tokens: ctx.tokens, limiter: masterKeyLimiter }),
  ];
  // Long-polls on a tree's revision (`run --watch`): no key, no value.
  const watch = createWatchService({ keys: ctx.keys, changes: ctx.database.changes });
  mountWatchApi(app, '/api/v1', { watch, keys: ctx.keys, projects: ctx.projects, audit: ctx.audit, guards: apiGuards });
  mountHostHeldApi(app, '/api/v1', { ctx, guards: apiGuards });
  mountSecretApi(app, '/api/v1', {
    secrets: ctx.secrets,
    audit: ctx.audit,
    guards: apiGuards,
    // Also enforced while reading a chunked body, which declares no length.
    parseJson: express.json({ limit: MAX_BODY_BYTES, strict: false }),
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
          // Only behind a TLS-terminating proxy: on plain HTTP it would break every form.
          ...(config.trustProxy && { upgradeInsecureRequests: [] }),
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );

  app.get('/api/v1/status', (_req, res) => {
    res.json({ status: 'ok', version: VERSION });
  });

  app.use('/api/v1', apiRules);
  const sessions = config.uiEnabled
    ? createSessionMiddleware(config, {
        now: () => ctx.now().getTime(),
        // An unseal lives no longer than the session that made it.
        onEnd: (holder) => ctx.keystore.dropHolder(holder),
        holders: ctx.keystore.holders,
        secret: sessionSecret,
        pool: ctx.database.engine === 'postgres' ? ctx.database.pool : undefined,
      })
    : undefined;
  const shares = express.Router();
  if (sessions) shares.use(sessions.middleware);
  shares.use(express.json({ limit: MAX_BODY_BYTES }));
  shares.use(
    shareApiRouter({
      shares: ctx.shares,
      notifier: createShareNotifier(config.smtp),
      tokens: ctx.tokens,
      users: ctx.users,
      config,
      limits: ctx.limits,
    }),
  );
  app.use('/api/v1/shares', shares);
  app.use('/api/v1', notFound);

  if (config.slack) {
    const { database } = ctx;
    app.use(
      '/integrations/slack',
      slackRouter({
        slack: config.slack,
        publicUrl,
        shares: ctx.shares,
        logger,
        claimSignature:
          database.engine === 'postgres'
            ? (signature, staleAfterMs) => claimOnce(database.pool, signature, staleAfterMs)
            : undefined,
      }),
    );
  }

  if (sessions)
    mountUi(app, {
      ctx,
      config,
      setup,
      unsealLimiter,
      sessions: sessions.middleware,
      secret: sessionSecret,
      instances,
    });

  app.use(notFound);
  app.use(errorHandler(logger, sessions && htmlErrorAnswer(logger)));
  // closeWatches answers every held watch, so a stopping server does not wait out their hold.
  return Object.assign(app, { closeUi: () => sessions?.close(), closeWatches: () => watch.close() });
}
