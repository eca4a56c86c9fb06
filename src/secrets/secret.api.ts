import type { IRouter, Request, RequestHandler, Response } from 'express';
import type { AuditService } from '../audit/audit.service.js';
import { AppError, type ErrorCode, Forbidden, InvalidMasterKey, InvalidRequest } from '../errors.js';
import { toDotenv } from '../formats/dotenv.js';
import { toShell } from '../formats/shell.js';
import { type ApiCaller, apiCaller, auditDenied } from './api-caller.js';
import type { KeyAccess } from '../keys/key.service.js';
import { expandAll, isStructuredType, SECRET_TYPES, type TypedValue, typedJson } from './typed-secrets.js';
import { assertSecretKey, SECRET_KEY } from './secret-key.js';
import type { SecretService } from './secret.service.js';

type Handler = (req: Request, res: Response, caller: ApiCaller, access: KeyAccess) => Promise<void>;

const DENIALS: ReadonlySet<ErrorCode> = new Set(['invalid_master_key', 'forbidden', 'rate_limited']);

export interface SecretApiDeps {
  readonly secrets: SecretService;
  readonly audit: Pick<AuditService, 'enqueue'>;
  /** Run before every route, ending with the token's authentication (see authenticateApi). */
  readonly guards: readonly RequestHandler[];
  /** Parses a JSON body; only the routes that take one run it. */
  readonly parseJson: RequestHandler;
}

/**
 * JSON routes over the token's own project and environment, registered as plain routes under
 * `prefix` (not a nested router: a pull is the hottest request and each layer it crosses costs).
 * Every response sends `Cache-Control: no-store` (apiSecurityHeaders, the first guard).
 */
export function mountSecretApi(router: IRouter, prefix: string, deps: SecretApiDeps): void {
  const { secrets, audit, guards } = deps;
  // The handler wipes the master key when done; a body that fails to parse never reaches it.
  const parseJson: RequestHandler = (req, res, next) =>
    deps.parseJson(req, res, (error?: unknown) => {
      if (error) {
        apiCaller(req).masterKey?.fill(0);
        apiCaller(req).token.wrappingKey?.fill(0);
      }
      next(error);
    });

  const handle =
    (handler: Handler, { write = false } = {}): RequestHandler =>
    async (req, res) => {
      const caller = apiCaller(req);
      try {
        // Rights first: a read token that tries to write never costs a derivation.
        if (write && caller.token.access !== 'read_write') throw new Forbidden('this token is read-only');
        await handler(req, res, caller, keyAccess(caller));
      } catch (error) {
        if (error instanceof AppError && DENIALS.has(error.code))
          auditDenied(audit, caller, error.code, auditedKey(req));
        throw error;
      } finally {
        caller.masterKey?.fill(0);
        caller.token.wrappingKey?.fill(0);
      }
    };

  /**
   * The zero-knowledge pull (`?format=sealed`): no key is used, so the request never reaches `handle`.
   * An X-Master-Key sent along is checked all the same (CONTRACT §4), and counted when wrong.
   */
  const sealed: RequestHandler = async (req, res, next) => {
    if (req.query.format !== 'sealed') return next();
    const caller = apiCaller(req);
    try {
      if (caller.masterKeySent && !caller.masterKey) throw new InvalidMasterKey();
      const access = caller.masterKey && { masterKey: caller.masterKey, guard: caller.guard };
      res.type('application/json').send(await secrets.pullSealed(caller, access));
    } catch (error) {
      if (error instanceof AppError && DENIALS.has(error.code)) auditDenied(audit, caller, error.code);
      throw error;
    } finally {
      caller.masterKey?.fill(0);
      caller.token.wrappingKey?.fill(0);
    }
  };

  router.get(
    `${prefix}/secrets`,
    ...guards,
    sealed,
    handle(async (req, res, caller, access) => {
      const format = typeof req.query.format === 'string' ? req.query.format : 'json';
      if (!['json', 'dotenv', 'shell'].includes(format))
        throw new InvalidRequest('format must be json, dotenv, shell or sealed');
      const withMetadata = format === 'json' && req.query.include === 'metadata';
      const variant = withMetadata ? 'json+metadata' : format;
      const { body } = await secrets.pull(caller, access, { format, variant }, (resolved) => {
        if (format === 'dotenv' || format === 'shell') {
          // A typed secret becomes its variables (DB → DB_USERNAME, DB_PASSWORD); a clash is a 422.
          const values = expandAll(resolved);
          return format === 'dotenv' ? toDotenv(values) : toShell(values);
        }
        // No prototype: on a plain object, `out.__proto__ = …` would set the prototype and drop the key.
        const out: Record<string, unknown> = Object.create(null);
        for (const [key, secret] of resolved) {
          const value = secret.typed ? typedJson(secret.typed) : secret.value;
          out[key] = withMetadata
            ? {
                value,
                version: secret.version,
                project: secret.project,
                updated_at: secret.updatedAt,
                // Only for a typed secret: a plain value's answer is as it always was (CONTRACT §4).
                ...(secret.typed && { type: secret.typed.type }),
              }
            : value;
        }
        return JSON.stringify({ project: caller.token.project, environment: caller.token.environment, secrets: out });
      });
      res.type(format === 'json' ? 'application/json' : 'text/plain').send(body);
    }),
  );

  router.get(
    `${prefix}/secrets/:key`,
    ...guards,
    handle(async (req, res, caller, access) => {
      const key = keyParam(req)!;
      assertSecretKey(key);
      const secret = await secrets.getForApi(caller, key, access);
      res.json({
        key,
        value: secret.typed ? typedJson(secret.typed) : secret.value,
        ...(secret.typed && { type: secret.typed.type }),
        version: secret.version,
        project: secret.project,
        environment: caller.token.environment,
      });
    }),
  );

  router.put(
    `${prefix}/secrets/:key`,
    ...guards,
    parseJson,
    handle(
      async (req, res, caller, access) => {
        const key = keyParam(req)!;
        assertSecretKey(key);
        const body: unknown = req.body;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new InvalidRequest('the body must be a JSON object like {"value": "…"}');
        }
        const { value, cas, type, fields } = body as {
          value?: unknown;
          cas?: unknown;
          type?: unknown;
          fields?: unknown;
        };
        const typed = typedInput(key, type, fields, value);
        if (value === undefined && !typed) throw new InvalidRequest('the body has no "value" (or "type" and "fields")');
        if (cas !== undefined && (typeof cas !== 'number' || !Number.isSafeInteger(cas) || cas < 0)) {
          throw new InvalidRequest('"cas" must be a whole number of 0 or more');
        }
        const written = await secrets.setForApi(caller, { key, value, cas, typed }, access);
        res.json(written);
      },
      { write: true },
    ),
  );

  router.delete(
    `${prefix}/secrets/:key`,
    ...guards,
    handle(
      async (req, res, caller, access) => {
        const key = keyParam(req)!;
        await secrets.removeForApi(caller, key, access);
        res.status(204).end();
      },
      { write: true },
    ),
  );
}

/**
 * A typed secret in a write's body: `{"type": "credential", "fields": {"username": …, "password": …}}`
 * (no "value"); undefined for a plain value (`"type": "generic"` or none).
 */
function typedInput(key: string, type: unknown, fields: unknown, value: unknown): TypedValue | undefined {
  if (type === undefined || type === 'generic') {
    if (fields !== undefined)
      throw new InvalidRequest('"fields" needs a "type" (credential, ssh_key, api_key, certificate)');
    return undefined;
  }
  if (typeof type !== 'string' || !isStructuredType(type)) {
    throw new InvalidRequest(`"type" must be one of ${SECRET_TYPES.join(', ')}`);
  }
  if (value !== undefined) throw new InvalidRequest(`a ${type} takes "fields", not "value"`);
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InvalidRequest(`${key}: "fields" must be an object of strings, e.g. {"username": "…", "password": "…"}`);
  }
  const copy: Record<string, string> = Object.create(null);
  for (const [name, field] of Object.entries(fields)) {
    if (typeof field !== 'string') throw new InvalidRequest(`${key}: the field "${name}" must be a string`);
    copy[name] = field;
  }
  return { type, fields: { ...copy } };
}

/**
 * The key a request opens values with: the master key when X-Master-Key is sent (checked as always,
 * keyed token or not); else a keyed token's own environment key. A token proof (`sfzk_`) opens
 * nothing here: it may fetch the sealed form only.
 */
function keyAccess(caller: ApiCaller): KeyAccess {
  const { token } = caller;
  if (token.presented === 'proof') {
    throw new Forbidden('a token proof (sfzk_) fetches the sealed form only: GET /api/v1/secrets?format=sealed');
  }
  if (caller.masterKey) return { masterKey: caller.masterKey, guard: caller.guard };
  if (caller.masterKeySent) throw new InvalidMasterKey();
  if (token.kind === 'keyed' && token.keyedToken && token.tokenProof && token.tokenHash) {
    return {
      keyedToken: {
        binding: token.binding,
        token: token.keyedToken,
        tokenProof: token.tokenProof,
        tokenHash: token.tokenHash,
        wrappingKey: token.wrappingKey,
        wrappedKey: token.wrappedKey,
      },
    };
  }
  throw new InvalidMasterKey();
}

function keyParam(req: Request): string | undefined {
  const key = (req.params as Record<string, string | undefined>).key;
  return key === undefined ? undefined : key.slice(0, 200);
}

/**
 * The key a denied request named, for its audit event: only when it is a valid KEY. The path is the
 * caller's text, and a value pasted where the key goes must not enter a log that cannot be cleaned.
 */
function auditedKey(req: Request): string | undefined {
  const key = keyParam(req);
  return key !== undefined && SECRET_KEY.test(key) ? key : undefined;
}
