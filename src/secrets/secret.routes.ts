import { type Request, type Response, Router } from 'express';
import { type AppError, InvalidRequest, Sealed } from '../errors.js';
import type { Config } from '../config.js';
import type { AppContext } from '../main.js';
import { action, field, flash, formOnError, noStore, param, sessionHolder, uiActor } from '../ui/ui-kit.js';

export interface SecretRoutesDeps {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'view'>;
    readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
    readonly secrets: Pick<
      AppContext['secrets'],
      'list' | 'reveal' | 'set' | 'remove' | 'history' | 'rollback' | 'diff'
    >;
  };
  readonly config: Pick<Config, 'decryptedMinutesBeforeRedirect' | 'maxSecretBytes'>;
}

export function secretRoutes({ ctx, config }: SecretRoutesDeps): Router {
  const router = Router();
  const base = (req: Request) =>
    `/projects/${encodeURIComponent(param(req, 'name'))}/envs/${encodeURIComponent(param(req, 'env'))}`;

  /** What the project header needs on every project page. */
  async function projectHeader(req: Request, name: string, environment?: string) {
    const project = await ctx.projects.view(name, sessionHolder(req));
    if (environment !== undefined) await ctx.environments.byName(environment);
    const environments = (await ctx.environments.list()).map((e) => ({
      name: e.name,
      current: e.name === environment,
    }));
    return { project, environments, environment };
  }

  router.get('/projects/:name/envs/:env', async (req, res) => {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    const secrets = await ctx.secrets.list({ project: header.project.name, environment: param(req, 'env') });
    const prefill = typeof req.query.key === 'string' ? req.query.key.slice(0, 128) : '';
    res.render('pages/secrets', {
      title: `${header.project.name} · ${param(req, 'env')}`,
      ...header,
      secrets,
      prefill,
      tab: 'secrets',
      back: base(req),
    });
  });

  // Sealed (423): the form that unseals the root, which then comes back here.
  const unsealFirst = (req: Request, _res: Response, error: AppError) => {
    const root = error instanceof Sealed ? error.project : param(req, 'name');
    return { title: `Unseal ${root}`, root, back: `${base(req)}/reveal`, cancel: base(req) };
  };

  router.get('/projects/:name/envs/:env/reveal', formOnError('pages/unseal', unsealFirst), async (req, res) => {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    if (!header.project.unsealedUntil) {
      throw new Sealed(header.project.root, `Unseal "${header.project.root}" to see values.`);
    }
    const resolved = await ctx.secrets.reveal(
      { project: header.project.name, environment: param(req, 'env') },
      { unsealedBy: sessionHolder(req) },
      uiActor(req, res),
    );
    const secrets = [...resolved].map(([key, s]) => ({ key, ...s, inherited: s.project !== header.project.name }));
    const seconds = config.decryptedMinutesBeforeRedirect * 60;
    noStore(res).render('pages/reveal', {
      title: `${header.project.name} · ${param(req, 'env')} (decrypted)`,
      ...header,
      secrets,
      tab: 'secrets',
      back: base(req),
      refresh: `${seconds};url=${base(req)}`,
      minutes: config.decryptedMinutesBeforeRedirect,
    });
  });

  router.post(
    '/projects/:name/envs/:env/secrets',
    action(base, async (req, res) => {
      const key = field(req, 'key', 200).trim();
      // Browsers send every textarea line break as CRLF (HTML spec); a person typing one means \n.
      const value = field(req, 'value', config.maxSecretBytes * 4 + 1).replace(/\r\n/g, '\n');
      if (key === '') throw new InvalidRequest('a key is required');
      const written = await ctx.secrets.set(
        { project: param(req, 'name'), environment: param(req, 'env'), key, value },
        { unsealedBy: sessionHolder(req) },
        uiActor(req, res),
      );
      flash(req, 'success', `${key} saved as version ${written.version}.`);
      res.redirect(303, base(req));
    }),
  );

  router.post(
    '/projects/:name/envs/:env/secrets/:key/delete',
    action(base, async (req, res) => {
      const deleted = await ctx.secrets.remove(
        { project: param(req, 'name'), environment: param(req, 'env'), key: param(req, 'key') },
        uiActor(req, res),
      );
      flash(req, 'success', `${deleted.key} deleted (version ${deleted.version} is the tombstone; history is kept).`);
      res.redirect(303, base(req));
    }),
  );

  router.get('/projects/:name/envs/:env/secrets/:key/history', async (req: Request, res: Response) => {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    const versions = (
      await ctx.secrets.history({
        project: header.project.name,
        environment: param(req, 'env'),
        key: param(req, 'key'),
      })
    ).reverse();
    res.render('pages/history', {
      title: `${param(req, 'key')} · history`,
      ...header,
      key: param(req, 'key'),
      versions,
      tab: 'secrets',
      back: base(req),
    });
  });

  router.post(
    '/projects/:name/envs/:env/secrets/:key/rollback',
    action(
      (req) => `${base(req)}/secrets/${encodeURIComponent(param(req, 'key'))}/history`,
      async (req, res) => {
        const version = Number(field(req, 'version', 10));
        if (!Number.isSafeInteger(version) || version < 1) throw new InvalidRequest('pick a version to roll back to');
        const written = await ctx.secrets.rollback(
          { project: param(req, 'name'), environment: param(req, 'env'), key: param(req, 'key'), version },
          { unsealedBy: sessionHolder(req) },
          uiActor(req, res),
        );
        flash(
          req,
          'success',
          `${written.key} rolled back: version ${written.version} holds the value of version ${version}.`,
        );
        res.redirect(303, `${base(req)}/secrets/${encodeURIComponent(param(req, 'key'))}/history`);
      },
    ),
  );

  router.get('/projects/:name/missing', async (req, res) => {
    const header = await projectHeader(req, param(req, 'name'));
    const diff = await ctx.secrets.diff(header.project.name);
    res.render('pages/missing', {
      title: `${header.project.name} · missing keys`,
      ...header,
      diff,
      tab: 'missing',
      back: `/projects/${header.project.name}/missing`,
    });
  });

  return router;
}
