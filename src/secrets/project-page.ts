import type { Request } from 'express';
import type { AppContext } from '../main.js';
import { param, sessionHolder } from '../ui/ui-kit.js';

/** What every page of a project shares (views/partials/project-header.hbs), for its routes files. */
export function projectPages(ctx: {
  readonly projects: Pick<AppContext['projects'], 'view'>;
  readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
}) {
  /** The address of the environment page a request is under. */
  const base = (req: Request) =>
    `/projects/${encodeURIComponent(param(req, 'name'))}/envs/${encodeURIComponent(param(req, 'env'))}`;

  /** The project (sealed state as this session sees it), and its environment tabs. */
  async function projectHeader(req: Request, name: string, environment?: string) {
    const project = await ctx.projects.view(name, sessionHolder(req));
    if (environment !== undefined) await ctx.environments.byName(environment);
    const environments = (await ctx.environments.list()).map((e) => ({
      name: e.name,
      current: e.name === environment,
    }));
    return { project, environments, environment };
  }

  return { base, projectHeader };
}
