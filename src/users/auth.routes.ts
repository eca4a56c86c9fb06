import { type Request, type Response, Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { AppError } from '../errors.js';
import { field, noStore, type UiDeps } from '../ui/ui-kit.js';
import type { SetupGate } from './setup.js';

/** Login, logout and the first-run setup page: the only UI routes reachable without a session. */
export function authRoutes({ ctx, setup }: UiDeps & { setup: SetupGate }): Router {
  const router = Router();
  const actorOf = (req: Request, name: string) => ({ name, ip: req.ip, userAgent: req.get('user-agent') });
  const renderLogin = (res: Response, status: number, error?: string, username = '') =>
    // The password is never echoed back into the form.
    res.status(status).render('pages/login', { title: 'Sign in', error, username, bare: true });

  const tooMany = (_req: Request, res: Response) =>
    renderLogin(res, 429, 'Too many sign-in attempts. Wait a minute and try again.');
  const perIp = rateLimit({
    windowMs: 15 * 60_000,
    limit: 30,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: tooMany,
  });
  // Failed attempts only, per username, whatever address they come from.
  const perUsername = rateLimit({
    windowMs: 60_000,
    limit: 5,
    skipSuccessfulRequests: true,
    keyGenerator: (req) => `user:${field(req, 'username', 64).toLowerCase()}`,
    standardHeaders: false,
    legacyHeaders: false,
    handler: tooMany,
  });

  router.get('/login', async (_req, res) => {
    if (res.locals.user) return res.redirect(303, '/');
    if (await setup.isOpen()) res.locals.setupHint = true;
    renderLogin(res, 200);
  });

  router.post('/login', perIp, perUsername, async (req, res, next) => {
    const username = field(req, 'username', 64);
    const from = { ip: req.ip, userAgent: req.get('user-agent') };
    const user = await ctx.users.signIn(username, field(req, 'password', 1024), from);
    if (!user) {
      return renderLogin(res, 401, 'Wrong username or password.', username);
    }
    // A new session id at sign-in, so a planted cookie is worth nothing.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.userId = user.id;
      res.redirect(303, '/');
    });
  });

  router.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.clearCookie('sf.sid').redirect(303, '/login')));
  });

  router.get('/setup', async (req, res) => {
    if (!(await setup.accepts(req.query.token)))
      return res.status(404).render('pages/error', { title: 'Not found', message: 'There is nothing here.' });
    noStore(res).render('pages/setup', { title: 'Welcome to secretsfly', token: String(req.query.token), bare: true });
  });

  router.post('/setup', async (req, res) => {
    const token = field(req, 'token');
    const username = field(req, 'username', 64);
    try {
      const user = await setup.complete(token, username, field(req, 'password', 1024), actorOf(req, 'setup'));
      if (!user)
        return res
          .status(404)
          .render('pages/error', { title: 'Not found', message: 'This setup link has been used or is wrong.' });
      req.session.flash = [{ kind: 'success', message: `Admin "${user.username}" created. Sign in to start.` }];
      res.redirect(303, '/login');
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      noStore(res)
        .status(400)
        .render('pages/setup', { title: 'Welcome to secretsfly', token, username, error: error.message, bare: true });
    }
  });

  return router;
}
