import { type Request, type Response, Router } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { AuditService } from '../audit/audit.service.js';
import { NoSuchRoute } from '../errors.js';
import { limiter } from '../http/middleware/rate-limit.js';
import type { Config } from '../config.js';
import type { AppContext } from '../main.js';
import { currentUser, field, formOnError, noStore } from '../ui/ui-kit.js';
import type { SetupGate } from './setup.js';
import type { LimitStores } from '../http/rate-limit-store.js';

export interface AuthRoutesDeps {
  readonly ctx: {
    readonly users: Pick<AppContext['users'], 'signIn'>;
    readonly audit: Pick<AuditService, 'recordAlone'>;
    readonly limits: LimitStores;
  };
  readonly config: Pick<Config, 'loginAttemptsPer15Minutes' | 'loginFailuresPerMinute'>;
  readonly setup: Pick<SetupGate, 'isOpen' | 'accepts' | 'complete'>;
  /** Whether a stranger's refused attempt is recorded (the UI's one recorder: oncePerMinute). */
  readonly recordOnce: (source: string | undefined, also?: string) => boolean;
}

/** Login, logout and the first-run setup page: the only UI routes reachable without a session. */
export function authRoutes({ ctx, config, setup, recordOnce }: AuthRoutesDeps): Router {
  const router = Router();
  const actorOf = (req: Request, name: string) => ({ name, ip: req.ip, userAgent: req.get('user-agent') });
  const renderLogin = (res: Response, status: number, error?: string, username = '') =>
    // The password is never echoed back into the form.
    res.status(status).render('pages/login', { title: 'Sign in', error, username, bare: true });

  const tooMany = 'Too many sign-in attempts. Wait a minute and try again.';
  const perIp = limiter({
    windowSeconds: 15 * 60,
    limit: config.loginAttemptsPer15Minutes,
    message: tooMany,
    store: ctx.limits('login-ip'),
  });
  // Failed attempts only, per username and address: guesses from elsewhere cannot lock the owner
  // out of their own account (the per-IP limit above still bounds each source).
  const perUsername = limiter({
    windowSeconds: 60,
    limit: config.loginFailuresPerMinute,
    key: (req) => `user:${field(req, 'username', 64).toLowerCase()}@${ipKeyGenerator(req.ip ?? '')}`,
    failuresOnly: true,
    headers: false,
    message: tooMany,
    store: ctx.limits('login-user'),
  });

  router.get('/login', async (req, res) => {
    if (res.locals.user) return res.redirect(303, '/');
    if (await setup.isOpen()) res.locals.setupHint = true;
    else if (req.query.setup === 'done') res.locals.notice = 'The first admin is created. Sign in to start.';
    renderLogin(res, 200);
  });

  const loginForm = (req: Request) => ({ title: 'Sign in', username: field(req, 'username', 64), bare: true });

  router.post('/login', formOnError('pages/login', loginForm), perIp, perUsername, async (req, res, next) => {
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

  router.post('/logout', async (req, res, next) => {
    if (res.locals.user) {
      await ctx.audit.recordAlone({ actor: actorOf(req, `user:${currentUser(res).username}`), action: 'logout' });
    }
    // Destroying the session also wipes every root it had unsealed (session.ts: onEnd).
    req.session.destroy((error) => (error ? next(error) : res.clearCookie('sf.sid').redirect(303, '/login')));
  });

  // Anyone can try setup links: each source is recorded once a minute, not once a request.
  const setupFailed = async (req: Request) => {
    if (recordOnce(req.ip, 'setup'))
      await ctx.audit.recordAlone({ actor: actorOf(req, 'setup'), action: 'setup_failed' });
  };

  // Once an admin exists, every setup link is spent: say so, and where to go instead.
  const setupDone = (res: Response) =>
    res.status(410).render('pages/setup-done', {
      title: 'Setup is done',
      message:
        'This setup link has been used: an admin exists. Sign in with that account, or ask an admin to create one for you (secretsfly user create).',
      bare: true,
    });

  router.get('/setup', async (req, res) => {
    if (!(await setup.isOpen())) return setupDone(res);
    if (!(await setup.accepts(req.query.token))) {
      await setupFailed(req);
      throw new NoSuchRoute('This setup link is wrong. Use the whole link the server printed when it started.');
    }
    noStore(res).render('pages/setup', {
      title: 'Welcome to secretsfly',
      token: String(req.query.token),
      // The instance that printed the link (several instances): the form goes back to it.
      instance: typeof req.query.instance === 'string' ? req.query.instance.slice(0, 36) : undefined,
      bare: true,
    });
  });

  const setupForm = (req: Request, res: Response) => {
    noStore(res);
    return {
      title: 'Welcome to secretsfly',
      token: field(req, 'token'),
      username: field(req, 'username', 64),
      bare: true,
    };
  };

  router.post('/setup', formOnError('pages/setup', setupForm), perIp, async (req, res) => {
    const token = field(req, 'token');
    const username = field(req, 'username', 64);
    const user = await setup.complete(token, username, field(req, 'password', 1024), actorOf(req, 'setup'));
    if (!user) {
      if (!(await setup.isOpen())) return setupDone(res);
      await setupFailed(req);
      throw new NoSuchRoute('This setup link is wrong or has been used.');
    }
    // Said through the URL, not a flash: a flash would store a session for a visitor not signed in.
    res.redirect(303, '/login?setup=done');
  });

  return router;
}
