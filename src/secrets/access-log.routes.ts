import { type Request, type Response, Router } from 'express';
import type { AppContext } from '../main.js';
import { param } from '../ui/ui-kit.js';
import { projectPages } from './project-page.js';

export interface AccessLogRoutesDeps {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'view'>;
    readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
    readonly accessLog: Pick<AppContext['accessLog'], 'list'>;
  };
}

/** A key's access log page: who received or revealed its value, how, when and from where; never the value. */
export function accessLogRoutes({ ctx }: AccessLogRoutesDeps): Router {
  const router = Router();
  const { base, projectHeader } = projectPages(ctx);

  // Beside the key's history page (secret.routes.ts), under the same path.
  router.get('/projects/:name/envs/:env/secrets/:key/access-log', async (req: Request, res: Response) => {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    const key = param(req, 'key');
    const entries = await ctx.accessLog.list({ project: header.project.name, environment: param(req, 'env'), key });
    res.render('pages/access-log', {
      title: `${key} · access log`,
      ...header,
      key,
      entries,
      tab: 'secrets',
      back: base(req),
      history: `${base(req)}/secrets/${encodeURIComponent(key)}/history`,
    });
  });

  return router;
}
