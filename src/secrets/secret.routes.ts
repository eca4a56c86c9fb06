import { type Request, type Response, Router } from 'express';
import { type AppError, InvalidRequest, NotFound, Sealed } from '../errors.js';
import type { Config } from '../config.js';
import type { AppContext } from '../main.js';
import { action, field, flash, formOnError, noStore, param, sessionHolder, uiActor } from '../ui/ui-kit.js';
import { pageOf } from '../ui/pager.js';
import { diffView } from './bulk-edit.js';
import { projectPages } from './project-page.js';
import type { SecretType, TypedValue } from './typed-secrets.js';
import { certificateView, formType, typedFormView, typedFromForm, typeLabel } from './typed-form.js';
import { validateTyped } from './typed-validation.js';

/** Keys on one page of a project's list: past this the server filters and pages (under 100 KB a page). */
const KEYS_PER_PAGE = 100;

export interface SecretRoutesDeps {
  readonly ctx: {
    readonly projects: Pick<AppContext['projects'], 'view'>;
    readonly environments: Pick<AppContext['environments'], 'byName' | 'list'>;
    readonly secrets: Pick<
      AppContext['secrets'],
      'list' | 'reveal' | 'set' | 'remove' | 'history' | 'rollback' | 'revealKey' | 'get'
    >;
    readonly hostHeld: Pick<AppContext['hostHeld'], 'list'>;
  };
  readonly config: Pick<Config, 'decryptedMinutesBeforeRedirect' | 'maxSecretBytes'>;
  /** The clock certificate expiry is measured against. */
  readonly now: () => Date;
}

export function secretRoutes({ ctx, config, now }: SecretRoutesDeps): Router {
  const router = Router();
  const { base, projectHeader } = projectPages(ctx);

  /** A key's page (its value to edit, its history), at its history. */
  const keyPage = (req: Request) => `${base(req)}/secrets/${encodeURIComponent(param(req, 'key'))}/history`;

  router.get('/projects/:name/envs/:env', async (req, res) => {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    const all = await ctx.secrets.list({ project: header.project.name, environment: param(req, 'env') });
    // Hundreds of keys stay usable: ?q= filters on the server, static/edit.js as you type.
    const query = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 128) : '';
    const matches = (key: string) => key.toLowerCase().includes(query.toLowerCase());
    // Up to a page of keys, every row is sent and those that do not match hidden, so the script can
    // widen the filter as you type. Past it, the server filters and pages (a page stays under 100 KB).
    const paged = all.length > KEYS_PER_PAGE;
    const matching = paged ? all.filter((s) => matches(s.key)) : all;
    const pageHref = (n: number) =>
      `${base(req)}?${new URLSearchParams({ ...(query && { q: query }), page: String(n) }).toString()}`;
    const { rows, pager } = paged
      ? pageOf(matching, KEYS_PER_PAGE, req.query.page, pageHref)
      : { rows: all, pager: undefined };
    const secrets = rows.map((s) => ({
      ...s,
      hidden: !paged && !matches(s.key),
      typeLabel: s.type === 'generic' ? undefined : typeLabel(s.type),
      certificate: certificateView(s.certificate, now()),
    }));
    const prefill = typeof req.query.key === 'string' ? req.query.key.slice(0, 128) : '';
    // Titles only, never values: these live on the app hosts that hold them (README, "Host-held secrets").
    const held = await ctx.hostHeld.list({ project: header.project.name, environment: param(req, 'env') });
    res.render('pages/secrets', {
      title: `${header.project.name} · ${param(req, 'env')}`,
      ...header,
      secrets,
      held,
      form: typedFormView(formType(req.query.type), (t) => `${base(req)}?type=${t}#secret-form`),
      total: all.length,
      shown: paged ? matching.length : secrets.filter((s) => !s.hidden).length,
      pager,
      paged,
      query,
      prefill,
      serverUrl: `${req.protocol}://${req.get('host') ?? 'localhost'}`,
      tab: 'secrets',
      back: req.originalUrl,
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
      const typed = typedFromForm((name) => field(req, name, config.maxSecretBytes * 4 + 1));
      // Browsers send every textarea line break as CRLF (HTML spec); a person typing one means \n.
      const value = typed ? '' : field(req, 'value', config.maxSecretBytes * 4 + 1).replace(/\r\n/g, '\n');
      if (key === '') throw new InvalidRequest('a key is required');
      const written = await ctx.secrets.set(
        { project: param(req, 'name'), environment: param(req, 'env'), key, value, typed },
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

  /**
   * A key's page: unsealed, its current value in the edit form and every version of the project's
   * own history with its value (one `secrets_revealed` event), and a line diff of any two of them;
   * sealed, the same history without values and the unseal form where the edit form would be.
   */
  async function showKey(req: Request, res: Response) {
    const header = await projectHeader(req, param(req, 'name'), param(req, 'env'));
    const scope = { project: header.project.name, environment: param(req, 'env'), key: param(req, 'key') };
    const unsealed = Boolean(header.project.unsealedUntil);
    let current: { value: string; version: number; project: string; typed?: TypedValue | undefined } | undefined;
    let versions: { version: number; kind: string; value?: string | null; createdAt: string; createdBy: string }[];
    // Metadata only (type, a certificate's public fields): shown sealed or not.
    const listed = (await ctx.secrets.list(scope)).find((s) => s.key === scope.key);
    if (unsealed) {
      const revealed = await ctx.secrets.revealKey(scope, { unsealedBy: sessionHolder(req) }, uiActor(req, res));
      current = revealed.current;
      versions = [...revealed.versions];
      noStore(res);
    } else {
      versions = await ctx.secrets.history(scope).then(
        (rows) => rows.reverse(),
        (error: unknown) => {
          if (error instanceof NotFound) return [];
          throw error;
        },
      );
      current = listed && { value: '', version: listed.version, project: listed.project };
    }
    if (versions.length === 0 && !current) throw new NotFound('secret', scope.key);
    const head = versions[0];
    // Only versions whose values the page holds can be compared (the newest SHOWN_VERSIONS).
    const live = versions.filter((v) => v.kind !== 'delete' && (!unsealed || v.value !== undefined));
    const valueOf = (version: number) => versions.find((v) => v.version === version)?.value ?? '';
    const pick = (name: string, fallback: number | undefined) => {
      const asked = Number(req.query[name]);
      return live.some((v) => v.version === asked) ? asked : fallback;
    };
    // By default the newest live version against the live one before it.
    const to = pick('to', live[0]?.version);
    const from = pick('from', live.find((v) => to !== undefined && v.version < to)?.version);
    res.render('pages/history', {
      title: `${scope.key} · ${header.project.name} · ${scope.environment}`,
      ...header,
      key: scope.key,
      current,
      inherited: current !== undefined && current.project !== header.project.name,
      headDeleted: head?.kind === 'delete',
      versions: versions.map((v) => ({
        ...v,
        deleted: v.kind === 'delete',
        isHead: v.version === head?.version,
        canRollBack: unsealed && v.kind !== 'delete' && v.version !== head?.version,
      })),
      compare:
        unsealed && from !== undefined && to !== undefined && from !== to
          ? { from, to, diff: diffView(valueOf(from), valueOf(to)) }
          : undefined,
      canCompare: unsealed && versions.length > 1,
      form: typedFormView(
        formType(req.query.type, (listed?.type ?? 'generic') as SecretType),
        (t) => `${keyPage(req)}?type=${t}#edit`,
        current?.typed,
      ),
      typeLabel: listed && listed.type !== 'generic' ? typeLabel(listed.type) : undefined,
      certificate: certificateView(listed?.certificate, now()),
      canTest: unsealed && (listed?.type === 'certificate' || listed?.type === 'ssh_key') && !listed.inherited,
      tab: 'secrets',
      back: req.originalUrl,
    });
  }

  router.get('/projects/:name/envs/:env/secrets/:key', showKey);
  router.get('/projects/:name/envs/:env/secrets/:key/history', showKey);

  // Re-validates a stored SSH key or certificate on the server, showing nothing of it.
  router.post(
    '/projects/:name/envs/:env/secrets/:key/test',
    action(
      (req) => keyPage(req),
      async (req, res) => {
        const scope = { project: param(req, 'name'), environment: param(req, 'env'), key: param(req, 'key') };
        const stored = await ctx.secrets.get(scope, { unsealedBy: sessionHolder(req) }, { raw: true });
        if (!stored.typed || (stored.typed.type !== 'certificate' && stored.typed.type !== 'ssh_key')) {
          throw new InvalidRequest(`${scope.key} is not an SSH key or a certificate: there is nothing to test`);
        }
        const certificate = validateTyped(scope.key, stored.typed, config.maxSecretBytes);
        const expiry = certificateView(certificate, now());
        flash(
          req,
          expiry?.expired ? 'error' : 'success',
          stored.typed.type === 'ssh_key'
            ? `${scope.key}: the private key parses${stored.typed.fields.passphrase ? ' and opens with its passphrase' : ''}.`
            : `${scope.key}: the certificate parses${stored.typed.fields.private_key ? ' and its private key matches it' : ''}; it ${expiry!.expired ? 'expired' : 'expires'} on ${certificate!.not_after.slice(0, 10)}.`,
        );
        res.redirect(303, keyPage(req));
      },
    ),
  );

  router.post(
    '/projects/:name/envs/:env/secrets/:key/rollback',
    action(
      (req) => keyPage(req),
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
        res.redirect(303, keyPage(req));
      },
    ),
  );

  return router;
}
