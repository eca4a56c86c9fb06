import { Router } from 'express';
import { action, field, flash, type UiDeps, uiActor } from '../ui/ui-kit.js';

export function environmentRoutes({ ctx }: UiDeps): Router {
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
