import express, { type Request, Router } from 'express';
import { AppError } from '../errors.js';
import type { SetupGate } from './setup.js';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · secretsfly</title></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;

const form = (token: string, username = '', error = '') =>
  page(
    'Create the first admin',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/setup">
  <input type="hidden" name="token" value="${escapeHtml(token)}">
  <p><label for="username">Username</label><br><input id="username" name="username" autocomplete="username" required value="${escapeHtml(username)}"></p>
  <p><label for="password">Password (12 characters or more)</label><br><input id="password" name="password" type="password" autocomplete="new-password" minlength="12" required></p>
  <p><button type="submit">Create admin</button></p>
</form>`,
  );

/**
 * First-run setup (minimal until the admin UI lands): the one-time link shows a form; posting it
 * creates the first admin. Everything answers 404 once an admin exists or without the right token.
 */
export function setupRouter(gate: SetupGate): Router {
  const router = Router();
  const notFound = (res: express.Response) => res.status(404).type('text/plain').send('Not found');
  const noStore = (res: express.Response) => res.set('Cache-Control', 'no-store');
  const field = (req: Request, name: string) => {
    const value = (req.body as Record<string, unknown> | undefined)?.[name];
    return typeof value === 'string' ? value.slice(0, 2048) : '';
  };

  router.get('/setup', async (req, res) => {
    if (!(await gate.accepts(req.query.token))) return notFound(res);
    noStore(res).type('html').send(form(String(req.query.token)));
  });

  router.post('/setup', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const token = field(req, 'token');
    const username = field(req, 'username');
    try {
      const user = await gate.complete(token, username, field(req, 'password'), { name: 'setup', ip: req.ip, userAgent: req.get('user-agent') });
      if (!user) return notFound(res);
      noStore(res).type('html').send(page('Admin created', `<p>You can now sign in as <strong>${escapeHtml(user.username)}</strong>.</p>`));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      noStore(res).status(400).type('html').send(form(token, username, error.message));
    }
  });

  return router;
}
