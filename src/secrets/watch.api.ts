import type { IRouter, RequestHandler } from 'express';
import type { AuditService } from '../audit/audit.service.js';
import { AppError, InvalidMasterKey, InvalidRequest } from '../errors.js';
import type { KeyService } from '../keys/key.service.js';
import type { ProjectService } from '../projects/project.service.js';
import { apiCaller, auditDenied } from './api-caller.js';
import type { WatchService } from './watch.service.js';

/** A revision as this server writes it is a short decimal; anything much longer is not one. */
const MAX_SINCE_LENGTH = 64;

/**
 * `GET {prefix}/watch?since=<revision>`: answers `{"revision":"…"}` at once when the token's tree
 * is at another revision (or `since` is absent), else when it moves, else after the hold with the
 * same revision (the client asks again). Any token form is accepted, a token proof (`sfzk_`)
 * included: the answer holds no value, and no key is used (an X-Master-Key sent along is checked as
 * on every call). Not under `/secrets/`: `watch` is a valid key name, which `/secrets/:key` serves.
 * Nothing is audited per watch: it reveals no value, and a quiet client asks twice a minute.
 */
export function mountWatchApi(
  router: IRouter,
  prefix: string,
  deps: {
    readonly watch: WatchService;
    readonly keys: Pick<KeyService, 'withDataKey'>;
    readonly projects: Pick<ProjectService, 'byId'>;
    readonly audit: Pick<AuditService, 'enqueue'>;
    readonly guards: readonly RequestHandler[];
  },
): void {
  const { watch, keys, projects, audit, guards } = deps;
  router.get(`${prefix}/watch`, ...guards, async (req, res) => {
    const caller = apiCaller(req);
    const { token } = caller;
    try {
      const { since } = req.query;
      if (since !== undefined && (typeof since !== 'string' || since.length > MAX_SINCE_LENGTH))
        throw new InvalidRequest('since must be a revision this endpoint answered');
      if (caller.masterKeySent) {
        if (!caller.masterKey) throw new InvalidMasterKey();
        const access = { masterKey: caller.masterKey, guard: caller.guard };
        await keys.withDataKey(await projects.byId(token.rootId), access, async () => undefined);
      }
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_master_key') auditDenied(audit, caller, error.code);
      throw error;
    } finally {
      caller.masterKey?.fill(0);
      caller.token.wrappingKey?.fill(0);
    }
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const revision = await watch.wait(token, req.query.since as string | undefined, gone.signal);
    // The client left: its socket may linger half-open, which a stopping server would wait for.
    if (gone.signal.aborted) return void res.destroy();
    // Stopping: the connection is not kept for a next request, so the stop need not wait for it.
    if (watch.closed()) res.set('Connection', 'close');
    res.json({ revision });
  });
}
