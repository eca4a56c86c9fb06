import { type Request, Router } from 'express';
import type { UnsealGuard } from '../keys/master-key-guard.js';
import type { AppContext } from '../main.js';
import {
  action,
  currentUser,
  field,
  flash,
  formOnError,
  localPath,
  noStore,
  param,
  sessionHolder,
  uiActor,
} from '../ui/ui-kit.js';
import type { ProjectView } from './project.service.js';

interface TreeNode extends ProjectView {
  children: TreeNode[];
}

function buildTree(projects: readonly ProjectView[]): TreeNode[] {
  const nodes = new Map(projects.map((p) => [p.name, { ...p, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parent === null ? undefined : nodes.get(node.parent);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

export interface ProjectRoutesDeps {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'list' | 'create' | 'byName' | 'rootOf'>;
    readonly environments: Pick<AppContext['environments'], 'list'>;
    readonly keys: Pick<AppContext['keys'], 'seal'>;
  };
  /** Unsealing goes through the wrong-key limiter, never straight to the key service. */
  readonly unseal: UnsealGuard;
  /** This instance, when there are several (PostgreSQL): the session's pages follow its unseal here. */
  readonly instance?: { readonly id: string; readonly name: string } | undefined;
}

export function projectRoutes({ ctx, unseal, instance }: ProjectRoutesDeps): Router {
  const router = Router();
  const firstEnvironment = async () => (await ctx.environments.list())[0]?.name ?? 'prod';

  router.get('/', async (req, res) => {
    const projects = await ctx.projects.list(sessionHolder(req));
    res.render('pages/home', { title: 'Projects', tree: buildTree(projects), empty: projects.length === 0 });
  });

  router.get('/projects/new', async (req, res) => {
    const parent = typeof req.query.parent === 'string' ? req.query.parent : '';
    res.render('pages/project-new', { title: 'New project', projects: await ctx.projects.list(), parent });
  });

  /** The refused form again, with its name and parent; never its master key, which is typed again. */
  const newProjectForm = async (req: Request) => ({
    title: 'New project',
    projects: await ctx.projects.list(),
    parent: field(req, 'parent', 63),
    name: field(req, 'name', 100),
  });

  router.post('/projects', formOnError('pages/project-new', newProjectForm), async (req, res) => {
    const parent = field(req, 'parent', 63) || undefined;
    const ownKey =
      parent === undefined && field(req, 'keyChoice') === 'own' ? field(req, 'masterKey', 1024) : undefined;
    const created = await ctx.projects.create(
      { name: field(req, 'name', 100), parent, masterKey: ownKey },
      uiActor(req, res),
    );
    if (created.masterKey) {
      // Rendered straight into this response, never stored: not in the session, not in a flash.
      noStore(res).render('pages/master-key', {
        title: 'Store your master key',
        project: created.project,
        masterKey: created.masterKey,
      });
      return;
    }
    flash(req, 'success', `Project "${created.project.name}" created.`);
    res.redirect(303, `/projects/${created.project.name}`);
  });

  router.get('/projects/:name', async (req, res) => {
    const project = await ctx.projects.byName(param(req, 'name'));
    res.redirect(303, `/projects/${project.name}/envs/${await firstEnvironment()}`);
  });

  const backTo = (req: Request) => localPath(field(req, 'back', 300));

  /** A wrong key (401), too many of them (429) …: the unseal form again, with the reason. */
  const unsealForm = (req: Request) => ({
    title: `Unseal ${param(req, 'name')}`,
    root: param(req, 'name'),
    back: backTo(req),
    cancel: backTo(req),
  });

  router.post('/projects/:name/unseal', formOnError('pages/unseal', unsealForm), async (req, res) => {
    const root = await ctx.projects.rootOf(await ctx.projects.byName(param(req, 'name')));
    const { expiresAt } = await unseal(
      currentUser(res).id,
      root,
      field(req, 'masterKey', 1024),
      uiActor(req, res),
      sessionHolder(req),
    );
    // The key is in this instance's memory only: the admin's next pages come here (http/instances.ts).
    if (instance) req.session.unsealedOn = { id: instance.id, name: instance.name };
    const minutes = Math.round((expiresAt.getTime() - Date.now()) / 60_000);
    flash(
      req,
      'success',
      `"${root.name}" is unsealed for ${minutes || 'less than a'} minute${minutes === 1 ? '' : 's'}.`,
    );
    res.redirect(303, backTo(req));
  });

  router.post(
    '/projects/:name/seal',
    action(backTo, async (req, res) => {
      const root = await ctx.projects.rootOf(await ctx.projects.byName(param(req, 'name')));
      await ctx.keys.seal(root, uiActor(req, res));
      flash(req, 'success', `"${root.name}" is sealed: its key is wiped from memory.`);
      res.redirect(303, backTo(req));
    }),
  );

  return router;
}
