import { Router } from 'express';
import type { UiDeps } from '../ui/ui-kit.js';

const ACTIONS = [
  'login',
  'login_failed',
  'unseal',
  'unseal_failed',
  'seal',
  'auto_seal',
  'project_created',
  'environment_created',
  'user_created',
  'secret_written',
  'secret_deleted',
  'secret_rolled_back',
  'secrets_revealed',
  'api_read',
  'api_write',
  'api_denied',
  'token_created',
  'token_revoked',
  'key_rotated',
  'reencrypted',
  'imported',
];

export function auditRoutes({ ctx }: UiDeps): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const projectFilter = typeof req.query.project === 'string' ? req.query.project : '';
    const actionFilter =
      typeof req.query.action === 'string' && ACTIONS.includes(req.query.action) ? req.query.action : '';
    const projects = await ctx.projects.list();
    const names = new Map(projects.map((p) => [p.id, p.name]));
    const selected = projects.find((p) => p.name === projectFilter);
    const events = await ctx.audit.list({
      limit: 200,
      ...(selected && { projectIds: [selected.id] }),
      ...(actionFilter && { action: actionFilter }),
    });
    const rows = events.map((e) => ({
      ...e,
      project: e.projectId ? (names.get(e.projectId) ?? e.projectId) : null,
      details: e.details ? JSON.stringify(e.details) : '',
    }));
    const verification = await ctx.audit.verify();
    res.render('pages/audit', {
      title: 'Audit log',
      rows,
      projects: projects.map((p) => ({ name: p.name, selected: p.name === projectFilter })),
      actions: ACTIONS.map((a) => ({ name: a, selected: a === actionFilter })),
      verification,
    });
  });

  return router;
}
