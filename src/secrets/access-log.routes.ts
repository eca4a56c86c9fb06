import { type Request, type Response, Router } from 'express';
import type { AppContext } from '../main.js';
import { param, sessionHolder } from '../ui/ui-kit.js';
import { createAccessLogService } from './access-log.service.js';

export interface AccessLogRoutesDeps {
  readonly ctx: {
    readonly database: Pick<AppContext['database'], 'db'>;
    readonly projects: Pick<AppContext['projects'], 'view' | 'byName' | 'chain'>;
    readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
  };
}

/** A key's access log page: who received or revealed its value, how, when and from where; never the value. */
export function accessLogRoutes({ ctx }: AccessLogRoutesDeps): Router {
  const router = Router();
  const accessLog = createAccessLogService({
    db: ctx.database.db,
    projects: ctx.projects,
    environments: ctx.environments,
  });

  // Beside the key's history page (secret.routes.ts), under the same path.
  router.get('/projects/:name/envs/:env/secrets/:key/access-log', async (req: Request, res: Response) => {
    const project = await ctx.projects.view(param(req, 'name'), sessionHolder(req));
    const environment = param(req, 'env');
    await ctx.environments.byName(environment);
    const key = param(req, 'key');
    const entries = await accessLog.list({ project: project.name, environment, key });
    const environments = (await ctx.environments.list()).map((e) => ({
      name: e.name,
      current: e.name === environment,
    }));
    const base = `/projects/${encodeURIComponent(project.name)}/envs/${encodeURIComponent(environment)}`;
    res.render('pages/access-log', {
      title: `${key} · access log`,
      project,
      environments,
      environment,
      key,
      entries,
      tab: 'secrets',
      back: base,
      history: `${base}/secrets/${encodeURIComponent(key)}/history`,
    });
  });

  return router;
}
