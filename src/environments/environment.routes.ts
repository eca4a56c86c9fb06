import { Router } from 'express';
import type { AppContext } from '../main.js';
import { action, field, flash, uiActor } from '../ui/ui-kit.js';

export interface EnvironmentRoutesDeps {
  readonly ctx: { readonly environments: Pick<AppContext['environments'], 'list' | 'create'> };
}

export function environmentRoutes({ ctx }: EnvironmentRoutesDeps): Router {
  const router = Router();

  router.get('/environments', async (_req, res) => {
    res.render('pages/environments', { title: 'Environments', rows: await ctx.environments.list() });
  });

  router.post(
    '/environments',
    action(
      () => '/environments',
      async (req, res) => {
        const created = await ctx.environments.create(field(req, 'name', 40).trim(), uiActor(req, res));
        flash(req, 'success', `Environment "${created.name}" created: every project has it now.`);
        res.redirect(303, '/environments');
      },
    ),
  );

  return router;
}
