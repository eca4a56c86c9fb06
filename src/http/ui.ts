import express, { type Express, type Request, type RequestHandler, Router } from 'express';
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
import { bulkEditRoutes } from '../secrets/bulk-edit.routes.js';
import { secretRoutes } from '../secrets/secret.routes.js';
import { accessLogRoutes } from '../secrets/access-log.routes.js';
import { tokenRoutes } from '../tokens/token.routes.js';
import { viewHelpers } from '../ui/view-helpers.js';
import { createAnonymousCsrf, isCrossSite, isSafeMethod, oncePerMinute } from '../ui/csrf.js';
import { noStore } from '../ui/ui-kit.js';
import { authRoutes } from '../users/auth.routes.js';
import type { Instances } from './instances.js';
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
    /** The cookie signing secret, which also signs the anonymous forms' CSRF tokens. */
    secret: string;
    /** Several instances (PostgreSQL): where this one is, and how pages follow an unseal. */
    instances?: Instances | undefined;
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
  const anonymousCsrf = createAnonymousCsrf(deps.secret);
  const auditOnce = oncePerMinute(() => ctx.now().getTime());
  /** Refuses a forged or stale form, and records it (once a minute per source and user: strangers can send many). */
  const refuse = async (req: Request): Promise<Forbidden> => {
    const userId = req.session.userId;
    if (auditOnce(req.ip, userId)) {
      const user = userId ? await ctx.users.byId(userId) : undefined;
      await ctx.audit.recordAlone({
        actor: { name: user ? `user:${user.username}` : 'anonymous', ip: req.ip, userAgent: req.get('user-agent') },
        action: 'csrf_refused',
        details: { method: req.method, path: req.path.slice(0, 200) },
      });
    }
    return new Forbidden(CSRF_REFUSED);
  };

  const ui = Router();
  ui.use(deps.sessions);
  // Before the body is read: a request handed to the instance holding the unseal keeps its body.
  if (deps.instances) ui.use(deps.instances.follow);
  ui.use(express.urlencoded({ extended: false, limit: '256kb' }));
  // Signed-in forms carry the session's synchronizer token; the sign-in and setup forms, shown
  // before there is a session to keep one in, a signed double-submit cookie (ui/csrf.ts).
  ui.use(async (req, res, next) => {
    if (isSafeMethod(req)) return next();
    if (isCrossSite(req)) return next(await refuse(req));
    if (!req.session.userId) return next(anonymousCsrf.accepts(req) ? undefined : await refuse(req));
    csrfSynchronisedProtection(req, res, (refused?: unknown) => (refused ? refuse(req).then(next, next) : next()));
  });
  ui.use(async (req, res, next) => {
    res.locals.csrfToken = req.session.userId ? generateToken(req) : anonymousCsrf.issue(req, res);
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
    if (deps.instances) res.locals.instance = deps.instances.self.name;
    next();
  });
  // Each route module gets the services it uses, and nothing else.
  const { users, audit, projects, environments, secrets, keys, tokens } = ctx;
  ui.use(authRoutes({ ctx: { users, audit, limits: ctx.limits }, config, setup, recordOnce: auditOnce }));
  ui.use((_req, res, next) => (res.locals.user ? next() : res.redirect(303, '/login')));
  ui.use(
    projectRoutes({
      ctx: { projects, environments, keys },
      unseal: createUnsealGuard({ keys, limiter: deps.unsealLimiter }),
      instance: deps.instances?.self,
    }),
    secretRoutes({ ctx: { projects, environments, secrets, hostHeld: ctx.hostHeld }, config, now: ctx.now }),
    bulkEditRoutes({ ctx: { projects, environments, secrets } }),
    accessLogRoutes({ ctx: { projects, environments, accessLog: ctx.accessLog } }),
    tokenRoutes({ ctx: { projects, environments, tokens } }),
    environmentRoutes({ ctx: { environments } }),
    auditRoutes({ ctx: { projects, audit } }),
  );
  ui.get('/share', (_req, res) => noStore(res).render('pages/share-create', { title: 'Share once' }));
  ui.use((_req, _res, next) => next(new NoSuchRoute()));
  app.use(ui);
}
