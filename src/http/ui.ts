import express, { type Express, type RequestHandler, Router } from 'express';
import { engine } from 'express-handlebars';
import { csrfSync } from 'csrf-sync';
import { auditRoutes } from '../audit/audit.routes.js';
import type { Config } from '../config.js';
import { environmentRoutes } from '../environments/environment.routes.js';
import { createUnsealGuard, type MasterKeyLimiter } from '../keys/master-key-guard.js';
import { Forbidden, NoSuchRoute, NotFound } from '../errors.js';
import type { AppContext } from '../main.js';
import { STATIC_DIR, VIEWS_DIR } from '../paths.js';
import { projectRoutes } from '../projects/project.routes.js';
import { secretRoutes } from '../secrets/secret.routes.js';
import { tokenRoutes } from '../tokens/token.routes.js';
import { viewHelpers } from '../ui/view-helpers.js';
import { noStore } from '../ui/ui-kit.js';
import { authRoutes } from '../users/auth.routes.js';
import type { SetupGate } from '../users/setup.js';

const CSRF_REFUSED = 'This form has expired or did not come from this site. Reload the page and try again.';

/**
 * The admin web UI: sessions (DATA_DIR/sessions.db), CSRF on every form, Handlebars views. Mounted
 * after the API, so API requests never touch sessions.
 */
export function mountUi(
  app: Express,
  deps: {
    ctx: AppContext;
    config: Config;
    setup: SetupGate;
    sessions: RequestHandler;
    /** Wrong master keys on unseal, per admin and root; its owner shuts it down. */
    unsealLimiter: MasterKeyLimiter;
  },
): void {
  const { ctx, config, setup } = deps;
  app.engine(
    'hbs',
    engine({
      extname: '.hbs',
      defaultLayout: 'main',
      layoutsDir: `${VIEWS_DIR}/layouts`,
      partialsDir: `${VIEWS_DIR}/partials`,
      helpers: viewHelpers,
    }),
  );
  app.set('view engine', 'hbs');
  app.set('views', VIEWS_DIR);
  app.use('/static', express.static(STATIC_DIR, { index: false, maxAge: '1h' }));
  // The public reveal page: no session, and viewing it consumes nothing (link previewers GET it).
  app.get('/s/:id', async (req, res) => {
    const share = await ctx.shares.peek(String(req.params.id)).catch((error: unknown) => {
      if (error instanceof NotFound) return undefined;
      throw error;
    });
    res
      .set('Cache-Control', 'no-store')
      .render('pages/share-reveal', { title: 'A secret for you', bare: true, share, id: req.params.id });
  });

  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => (req.body as Record<string, string> | undefined)?._csrf,
  });

  const ui = Router();
  ui.use(deps.sessions);
  ui.use(express.urlencoded({ extended: false, limit: '256kb' }));
  ui.use((req, res, next) =>
    csrfSynchronisedProtection(req, res, (refused?: unknown) =>
      next(refused ? new Forbidden(CSRF_REFUSED) : undefined),
    ),
  );
  ui.use(async (req, res, next) => {
    res.locals.csrfToken = generateToken(req);
    // Taken from the session only when a page is rendered, so a redirect in between keeps them.
    Object.defineProperty(res.locals, 'flash', {
      enumerable: true,
      get: () => {
        const messages = req.session.flash ?? [];
        delete req.session.flash;
        return messages;
      },
    });
    res.locals.user = req.session.userId ? await ctx.users.byId(req.session.userId) : undefined;
    res.locals.environments = (await ctx.environments.list()).map((env) => env.name);
    next();
  });
  // Each route module gets the services it uses, and nothing else.
  const { users, audit, projects, environments, secrets, keys, tokens } = ctx;
  ui.use(authRoutes({ ctx: { users }, config, setup }));
  ui.use((_req, res, next) => (res.locals.user ? next() : res.redirect(303, '/login')));
  ui.use(
    projectRoutes({
      ctx: { projects, environments, keys },
      unseal: createUnsealGuard({ keys, limiter: deps.unsealLimiter }),
    }),
    secretRoutes({ ctx: { projects, environments, secrets }, config }),
    tokenRoutes({ ctx: { projects, environments, tokens } }),
    environmentRoutes({ ctx: { environments } }),
    auditRoutes({ ctx: { projects, audit } }),
  );
  ui.get('/share', (_req, res) => noStore(res).render('pages/share-create', { title: 'Share once' }));
  ui.use((_req, _res, next) => next(new NoSuchRoute()));
  app.use(ui);
}
