import { type Request, Router } from 'express';
import type { Actor } from '../audit/audit.service.js';
import type { Config } from '../config.js';
import type { LimitStores } from '../http/rate-limit-store.js';
import { Forbidden, InvalidRequest, InvalidToken } from '../errors.js';
import { limiter } from '../http/middleware/rate-limit.js';
import type { TokenService } from '../tokens/token.service.js';
import type { UserService } from '../users/user.service.js';
import { assertEmail, type ShareNotifier } from './share-notice.js';
import type { ShareService } from './share.service.js';

const requester = (req: Request, name: string): Actor => ({ name, ip: req.ip, userAgent: req.get('user-agent') });

/**
 * /api/v1/shares. Creating may need a read_write token or an admin session (SHARES_REQUIRE_AUTH);
 * status and burn need the creator key; reveal needs nothing but the id, and is the only call that
 * consumes anything. Nothing here ever sees a key or a plaintext.
 */
export function shareApiRouter(deps: {
  shares: ShareService;
  notifier: ShareNotifier;
  tokens: Pick<TokenService, 'authenticate'>;
  users: Pick<UserService, 'byId'>;
  config: Config;
  limits: LimitStores;
}): Router {
  const { shares, notifier, tokens, users, config, limits } = deps;
  const router = Router();
  async function creator(req: Request): Promise<Actor> {
    const [scheme, token] = (req.get('authorization') ?? '').split(' ');
    if (scheme?.toLowerCase() === 'bearer' && token) {
      // A keyed token's proof (sfzk_) is enough here: creating a share needs no key. The wrapping key a
      // whole keyed token yields is of no use here, and is wiped at once.
      const authenticated = await tokens.authenticate(token, { ip: req.ip, userAgent: req.get('user-agent') });
      authenticated.wrappingKey?.fill(0);
      if (authenticated.access !== 'read_write') throw new Forbidden('sharing needs a read_write token');
      return requester(req, `token:${authenticated.id}`);
    }
    const session = (req as Request & { session?: { userId?: string; csrfToken?: string } }).session;
    // A signed-in admin: the page's CSRF token must come along as a header.
    if (session?.userId && session.csrfToken && req.get('x-csrf-token') === session.csrfToken) {
      const user = await users.byId(session.userId);
      if (user) return requester(req, `user:${user.username}`);
    }
    if (config.sharesRequireAuth) throw new InvalidToken();
    return requester(req, 'anonymous');
  }

  router.post('/', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const actor = await creator(req);
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    if (body.notify_email !== undefined) {
      // Checked before the share exists, so a refused notice leaves nothing behind.
      if (!config.smtp) throw new InvalidRequest('e-mail notices are not set up on this server (SMTP_URL)');
      assertEmail(body.notify_email);
    }
    const created = await shares.create(
      { ciphertext: body.ciphertext, ttl: body.ttl, passphraseProtected: body.passphrase_protected },
      actor,
    );
    let notified: boolean | undefined;
    if (body.notify_email !== undefined) {
      // The share exists either way; the answer says whether the notice went out.
      notified = await notifier.notify(body.notify_email, { expiresAt: created.expires_at, sender: actor.name }).then(
        () => true,
        () => false,
      );
    }
    res.status(201).json(notified === undefined ? created : { ...created, notified });
  });

  // Public, and consumes nothing: what a reveal page needs to know before the click.
  router.get('/:id', async (req, res) => {
    const share = await shares.peek(String(req.params.id));
    res
      .set('Cache-Control', 'no-store')
      .json({ state: share.state, passphrase_protected: share.passphraseProtected, expires_at: share.expiresAt });
  });

  router.get('/:id/status', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await shares.status(String(req.params.id), req.get('x-creator-key')));
  });

  router.delete('/:id', async (req, res) => {
    await shares.burn(String(req.params.id), req.get('x-creator-key'), requester(req, 'creator'));
    res.status(204).end();
  });

  router.post(
    '/:id/reveal',
    limiter({ windowSeconds: 60, limit: config.shareRevealsPerMinute, store: limits('share-reveal') }),
    async (req, res) => {
      res
        .set('Cache-Control', 'no-store')
        .json(await shares.reveal(String(req.params.id), requester(req, 'recipient')));
    },
  );

  return router;
}
