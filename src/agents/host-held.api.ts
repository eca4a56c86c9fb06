import express, { type IRouter, type Request, type RequestHandler } from 'express';
import type { AppContext } from '../main.js';
import { type ApiCaller, apiCaller } from '../secrets/api-caller.js';
import { SYNC_SIGNATURE_HEADER, SYNC_TIMESTAMP_HEADER } from './host-held-fns.js';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Host-held secrets over the service-token API (README, "Host-held secrets"):
 *
 * - `GET /host-held[?agent=<name>]`: the titles held on hosts in the token's project and
 *   environment, each marked with its host. Any token of the scope.
 * - `PUT /host-held/:agent`: an agent replaces its whole set of titles in the token's scope, signed
 *   (HMAC-SHA256 over the exact body and a timestamp; host-held-fns.ts). A read_write token.
 *
 * Neither ever carries a value. Every response sends `Cache-Control: no-store` (the first guard).
 */
export function mountHostHeldApi(
  router: IRouter,
  prefix: string,
  deps: { ctx: AppContext; guards: readonly RequestHandler[] },
): void {
  const { ctx, guards } = deps;
  const { hostHeld } = ctx;
  // The exact bytes: the signature covers them, not a re-serialisation of what a parser made of them.
  const rawBody = express.raw({ type: () => true, limit: MAX_BODY_BYTES });

  router.get(`${prefix}/host-held`, ...guards, async (req, res) => {
    const caller = apiCaller(req);
    wipe(caller);
    const agent = typeof req.query.agent === 'string' ? req.query.agent.slice(0, 64) : undefined;
    const secrets = await hostHeld.listForApi(caller, agent);
    res.json({
      project: caller.token.project,
      environment: caller.token.environment,
      secrets: secrets.map((s) => ({
        id: s.id,
        name: s.name,
        type: s.type,
        held_on_host: s.agent,
        synced_at: s.syncedAt,
      })),
    });
  });

  router.put(`${prefix}/host-held/:agent`, ...guards, rawBody, async (req, res) => {
    const caller = apiCaller(req);
    wipe(caller);
    const result = await hostHeld.sync(caller, {
      agent: String((req.params as Record<string, string>).agent).slice(0, 100),
      credential: bearer(req),
      method: 'PUT',
      path: req.originalUrl.split('?')[0]!,
      timestamp: req.get(SYNC_TIMESTAMP_HEADER),
      signature: req.get(SYNC_SIGNATURE_HEADER),
      body: Buffer.isBuffer(req.body) ? req.body : new Uint8Array(),
    });
    res.json(result);
  });
}

/** Neither route opens a value: key material a request brought (a whole keyed token's W, a master key) goes at once. */
function wipe(caller: ApiCaller): void {
  caller.masterKey?.fill(0);
  caller.token.wrappingKey?.fill(0);
}

/** The credential authenticateApi verified, as the client sent it. */
const bearer = (req: Request): string => (req.get('authorization') ?? '').split(' ')[1] ?? '';
