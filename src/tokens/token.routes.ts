import { Router } from 'express';
import { pageOf } from '../ui/pager.js';
import type { AppContext } from '../main.js';
import { action, field, flash, localPath, noStore, param, sessionHolder, uiActor } from '../ui/ui-kit.js';
import { parseDuration } from './token-duration.js';
import type { TokenView } from './token.service.js';

export interface TokenRoutesDeps {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'view'>;
    readonly environments: Pick<AppContext['environments'], 'list'>;
    readonly tokens: Pick<AppContext['tokens'], 'list' | 'create' | 'revoke'>;
  };
}

/** What the tokens table says of a token, in one word beside its action. */
export type TokenState = 'active' | 'expired' | 'revoked';

const stateOf = (token: Pick<TokenView, 'revoked_at' | 'expires_at'>, now: number): TokenState => {
  if (token.revoked_at) return 'revoked';
  return token.expires_at && Date.parse(token.expires_at) <= now ? 'expired' : 'active';
};

/** Tokens on one page of a project's list. */
const TOKENS_PER_PAGE = 50;

export function tokenRoutes({ ctx }: TokenRoutesDeps): Router {
  const router = Router();
  const page = (name: string) => `/projects/${encodeURIComponent(name)}/tokens`;

  router.get('/projects/:name/tokens', async (req, res) => {
    const project = await ctx.projects.view(param(req, 'name'), sessionHolder(req));
    const now = Date.now();
    // A page of tokens at a time: two hundred of them made a 274 KB page.
    const { rows, pager } = pageOf(
      await ctx.tokens.list(project.name),
      TOKENS_PER_PAGE,
      req.query.page,
      (n) => `${page(project.name)}?page=${n}`,
    );
    const tokens = rows.map((token) => ({ ...token, state: stateOf(token, now) }));
    const environments = (await ctx.environments.list()).map((e) => ({ name: e.name }));
    res.render('pages/tokens', {
      title: `${project.name} · tokens`,
      nav: 'projects',
      project,
      environments,
      tokens,
      pager,
      tab: 'tokens',
      back: page(project.name),
    });
  });

  router.post(
    '/projects/:name/tokens',
    action(
      (req) => page(param(req, 'name')),
      async (req, res) => {
        const expires = field(req, 'expiresIn', 10);
        // Keyed unless asked otherwise: it needs the environment key, so this session's unseal of
        // the root (a sealed root answers "unseal it first").
        const keyed = field(req, 'kind', 10) === 'classic' ? undefined : { unsealedBy: sessionHolder(req) };
        const created = await ctx.tokens.create(
          {
            project: param(req, 'name'),
            environment: field(req, 'environment', 32),
            access: field(req, 'access') === 'read_write' ? 'read_write' : 'read',
            expiresInSeconds: expires ? parseDuration(expires) : undefined,
            name: field(req, 'tokenName', 100) || undefined,
            keyed,
          },
          uiActor(req, res),
        );
        // Rendered once, straight into this response; only its hash is kept.
        noStore(res).render('pages/token-created', {
          title: 'Service token created',
          token: created.token,
          view: created.view,
          back: page(param(req, 'name')),
        });
      },
    ),
  );

  router.post(
    '/tokens/:id/revoke',
    action(
      (req) => localPath(field(req, 'back', 300)),
      async (req, res) => {
        const revoked = await ctx.tokens.revoke(param(req, 'id'), uiActor(req, res));
        flash(
          req,
          'success',
          `Token "${revoked.name}" revoked: it stopped working at once. Give the apps that still need access a new token.`,
        );
        if (!revoked.scrubbed) {
          flash(
            req,
            'error',
            "Another process kept the database busy, so the revoked token's wrapped key may still be in the write-ahead log: restart the server before anyone copies DATA_DIR.",
          );
        }
        res.redirect(303, page(revoked.project));
      },
    ),
  );

  return router;
}
