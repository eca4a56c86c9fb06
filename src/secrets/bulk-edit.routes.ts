import { type Request, type Response, Router } from 'express';
import { AppError, Sealed, TooLarge, VersionConflict } from '../errors.js';
import type { AppContext } from '../main.js';
import { pageOf } from '../ui/pager.js';
import { field, flash, formOnError, noStore, param, sessionHolder, uiActor } from '../ui/ui-kit.js';
import { decodeSeen, previewView } from './bulk-edit.js';
import { projectPages } from './project-page.js';

/** Longest dotenv block a bulk edit takes (the UI's form bodies are limited to 256 KiB). */
const MAX_BULK_CHARS = 200_000;

/** Missing keys on one page. */
const MISSING_PER_PAGE = 100;

/**
 * A project's pages over many keys at once: bulk edit (paste a dotenv block, preview what changes,
 * apply it in one transaction) and the keys missing in some environments.
 */
export function bulkEditRoutes({
  ctx,
}: {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'view'>;
    readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
    readonly secrets: Pick<AppContext['secrets'], 'diff' | 'previewDotenv' | 'importDotenv'>;
  };
}): Router {
  const router = Router();
  const { base, projectHeader } = projectPages(ctx);

  /** The pasted block, line breaks as the author meant them (a browser sends CRLF); bounded. */
  const bulkContent = (req: Request) => {
    const content = field(req, 'content', MAX_BULK_CHARS + 1).replace(/\r\n/g, '\n');
    if (content.length > MAX_BULK_CHARS) throw new TooLarge(`a bulk edit takes at most ${MAX_BULK_CHARS} characters`);
    return content;
  };

  /** The bulk edit form, again with the pasted block (bad input, sealed, or data changed since the preview). */
  const bulkForm = async (req: Request, res?: Response) => {
    // The block holds values: a page showing it again is never cached either.
    if (res) noStore(res);
    return {
      ...(await projectHeader(req, param(req, 'name'), param(req, 'env'))),
      title: `Bulk edit · ${param(req, 'name')} · ${param(req, 'env')}`,
      content: field(req, 'content', MAX_BULK_CHARS).replace(/\r\n/g, '\n'),
      tab: 'secrets',
      back: `${base(req)}/bulk`,
    };
  };

  router.get('/projects/:name/envs/:env/bulk', async (req, res) => {
    res.render('pages/bulk-edit', await bulkForm(req));
  });

  // "Edit the block" from a preview: the form again with what was pasted.
  router.post('/projects/:name/envs/:env/bulk', async (req, res) => {
    res.render('pages/bulk-edit', await bulkForm(req, res));
  });

  router.post('/projects/:name/envs/:env/bulk/preview', formOnError('pages/bulk-edit', bulkForm), async (req, res) => {
    const locals = await bulkForm(req);
    const content = bulkContent(req);
    if (!locals.project.unsealedUntil)
      throw new Sealed(locals.project.root, `Unseal "${locals.project.root}" to compare values.`);
    const preview = await ctx.secrets.previewDotenv(
      { project: locals.project.name, environment: param(req, 'env'), content },
      { unsealedBy: sessionHolder(req) },
      uiActor(req, res),
    );
    noStore(res).render('pages/bulk-edit-preview', { ...locals, content, ...previewView(preview) });
  });

  router.post('/projects/:name/envs/:env/bulk/apply', formOnError('pages/bulk-edit', bulkForm), async (req, res) => {
    const content = bulkContent(req);
    const seen = decodeSeen(field(req, 'seen', 200_000));
    const result = await ctx.secrets
      .importDotenv(
        {
          project: param(req, 'name'),
          environment: param(req, 'env'),
          content,
          allowWarnings: field(req, 'allowWarnings') === '1',
          expectedVersions: seen,
        },
        { unsealedBy: sessionHolder(req) },
        uiActor(req, res),
      )
      .catch((error: unknown) => {
        if (error instanceof VersionConflict) {
          throw new AppError(
            'version_conflict',
            `Nothing was applied: the values changed since your preview (${error.message} now). Preview again to see what they hold.`,
          );
        }
        throw error;
      });
    flash(
      req,
      'success',
      `Applied: ${result.written.length} ${result.written.length === 1 ? 'key' : 'keys'} written as new versions, ${result.unchanged.length} unchanged.`,
    );
    res.redirect(303, base(req));
  });

  router.get('/projects/:name/missing', async (req, res) => {
    const header = await projectHeader(req, param(req, 'name'));
    const diff = await ctx.secrets.diff(header.project.name);
    const page = `/projects/${encodeURIComponent(header.project.name)}/missing`;
    // A page of keys at a time, as on the project page (a thousand missing keys made 229 KB).
    const { rows, pager } = pageOf(diff.missing, MISSING_PER_PAGE, req.query.page, (n) => `${page}?page=${n}`);
    res.render('pages/missing', {
      title: `${header.project.name} · missing keys`,
      ...header,
      diff: { ...diff, missing: rows },
      pager,
      tab: 'missing',
      back: page,
    });
  });

  return router;
}
