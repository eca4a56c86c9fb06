import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Request, RequestHandler, Response } from 'express';
import httpProxy from 'http-proxy';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { PostgresHandle } from '../db/open.js';
import type { Logger } from '../logger.js';

/**
 * Several instances on one PostgreSQL, and the one thing they cannot share: an admin's unseal. The
 * data key lives only in the memory of the instance where the admin unsealed (never in the
 * database, never sent between instances). So the admin's pages follow the unseal instead: the
 * session records which instance holds it, and any other instance hands the request over to that
 * one. On Fly.io, Fly's proxy replays the request there (`fly-replay`); elsewhere this instance
 * forwards it to the holder's INSTANCE_URL; without either, the balancer must keep the admin on one
 * instance (sticky sessions, README "Docker Compose"). API pulls never need this: they need no unseal.
 */

/** Instances say they are alive this often; one not seen for DEAD_AFTER_MS is gone. */
const HEARTBEAT_MS = 10_000;
const DEAD_AFTER_MS = 35_000;
/** Set on a request handed over by another instance: it is never handed over again. */
export const FORWARDED_HEADER = 'x-secretsfly-forwarded-by';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

declare module 'express-session' {
  interface SessionData {
    /** The instance holding this session's unseals (PostgreSQL only): its id and the name the UI shows. */
    unsealedOn?: { id: string; name: string };
  }
}

export interface InstanceRow {
  id: string;
  name: string;
  url: string | null;
  fly_machine_id: string | null;
  seen_at: string;
}

export interface Instances {
  readonly self: { readonly id: string; readonly name: string };
  /** Hands a signed-in admin's request to the instance holding their unseal, when that is not this one. */
  readonly follow: RequestHandler;
  close(): Promise<void>;
}

export async function startInstances(deps: {
  database: PostgresHandle;
  config: Pick<Config, 'instanceName' | 'instanceUrl' | 'flyMachineId'>;
  logger: Pick<Logger, 'warn'>;
  now: () => Date;
}): Promise<Instances> {
  const { database, config, logger, now } = deps;
  const { db } = database;
  const self = { id: randomUUID(), name: config.instanceName ?? os.hostname() };

  const beat = async () => {
    const at = now().toISOString();
    await sql`insert into instances (id, name, url, fly_machine_id, started_at, seen_at)
              values (${self.id}, ${self.name}, ${config.instanceUrl ?? null}, ${config.flyMachineId ?? null}, ${at}, ${at})
              on conflict (id) do update set seen_at = excluded.seen_at`.execute(db);
    // Any instance may sweep the dead: sweeping twice removes nothing more.
    const deadBefore = new Date(now().getTime() - 10 * DEAD_AFTER_MS).toISOString();
    await sql`delete from instances where seen_at < ${deadBefore}`.execute(db);
  };
  await beat();
  const heartbeat = setInterval(() => {
    beat().catch(() => logger.warn('instance heartbeat not written: the database is unreachable'));
  }, HEARTBEAT_MS).unref();

  const alive = async (id: string): Promise<InstanceRow | undefined> => {
    const row = (
      await sql<InstanceRow>`select id, name, url, fly_machine_id, seen_at from instances where id = ${id}`.execute(db)
    ).rows[0];
    return row && now().getTime() - Date.parse(row.seen_at) < DEAD_AFTER_MS ? row : undefined;
  };

  // No X-Forwarded-* added: the holder sees the client's address as the balancer stated it.
  const proxy = httpProxy.createProxyServer({ xfwd: false, proxyTimeout: 30_000 });

  /**
   * Sends the request to instance `id` (fly-replay, or a proxy to its INSTANCE_URL) and returns
   * true, or returns false when it cannot: that instance is gone, or has neither. `gone` runs when
   * the instance is known to be gone (no heartbeat, or it refused a page request).
   */
  const handOver = async (id: string, why: string, req: Request, res: Response, gone: () => void) => {
    const target = await alive(id);
    if (!target) {
      gone();
      return false;
    }
    // This very machine under an older process (a crash, then Fly's restart): that process's key died
    // with it. And a request Fly already replayed is never sent back: no loop either way.
    if (target.fly_machine_id && (target.fly_machine_id === config.flyMachineId || req.get('fly-replay-src'))) {
      gone();
      return false;
    }
    if (target.fly_machine_id) {
      // Fly's proxy replays the whole request on that machine; this answer's body is discarded.
      res.set('fly-replay', `instance=${target.fly_machine_id}`).status(409).end();
      return true;
    }
    if (!target.url) return false;
    req.headers[FORWARDED_HEADER] = self.id;
    return new Promise<boolean>((resolve) => {
      proxy.web(req, res, { target: target.url! }, (error) => {
        const code = (error as NodeJS.ErrnoException).code ?? error.name;
        logger.warn('request not handed over to another instance', { instance: target.name, why, error: code });
        // The instance is gone (a crash, a deploy): a page, which has no body the attempt could
        // have consumed, is served here instead.
        if (code === 'ECONNREFUSED' && (req.method === 'GET' || req.method === 'HEAD') && !res.headersSent) {
          gone();
          resolve(false);
          return;
        }
        if (!res.headersSent) {
          res
            .status(502)
            .type('text/plain')
            .send(`Instance ${target.name}, which ${why}, did not answer. Reload to try again.`);
        }
        resolve(true);
      });
      res.once('close', () => resolve(true));
    });
  };

  const follow: RequestHandler = (req, res, next) => {
    if (req.get(FORWARDED_HEADER)) return next();
    // The first-admin link names the instance that printed it: only that one knows its token.
    const printedBy = req.path === '/setup' && typeof req.query.instance === 'string' ? req.query.instance : undefined;
    if (printedBy !== undefined && printedBy !== self.id && UUID.test(printedBy)) {
      handOver(printedBy, 'printed this setup link', req, res, () => undefined).then(
        (handed) => (handed ? undefined : next()),
        next,
      );
      return;
    }
    const holder = req.session?.unsealedOn;
    if (!holder || holder.id === self.id) return next();
    // Gone: the admin carries on on this instance, sealed. Unreachable from here: the same, and
    // the balancer should be sticky (README).
    handOver(holder.id, 'holds your unseal', req, res, () => delete req.session.unsealedOn).then(
      (handed) => (handed ? undefined : next()),
      next,
    );
  };

  return {
    self,
    follow,
    async close() {
      clearInterval(heartbeat);
      proxy.close();
      await sql`delete from instances where id = ${self.id}`.execute(db).catch(() => undefined);
    },
  };
}
