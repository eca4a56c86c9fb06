import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { ENVIRONMENT_NAME } from '../config.js';
import type { Database } from '../db/database.js';
import { immutableRows } from '../db/immutable-rows.js';
import { writeTransaction } from '../db/open.js';
import { AlreadyExists, InvalidRequest, NotFound } from '../errors.js';
import { environmentRepository } from './environment.repository.js';
import type { EnvironmentRow } from './environment.table.js';

export function assertEnvironmentName(name: string): void {
  if (!ENVIRONMENT_NAME.test(name)) {
    throw new InvalidRequest(
      `invalid environment name "${name.slice(0, 40)}": use a-z, 0-9, "-" or "_", up to 32 characters`,
    );
  }
}

export function createEnvironmentService(deps: {
  db: Kysely<Database>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
}) {
  const { db, audit, now } = deps;

  function list(): Promise<EnvironmentRow[]> {
    return environmentRepository.listEnvironments(db);
  }

  // Environments are never renamed or deleted: a row read once stays true.
  const byName = immutableRows(
    (name: string) => environmentRepository.findEnvironmentByName(db, name),
    (name) => new NotFound('environment', name),
  );
  const byId = immutableRows(
    (id: string) => environmentRepository.findEnvironmentById(db, id),
    (id) => new NotFound('environment', id),
  );

  async function create(name: string, actor: Actor): Promise<EnvironmentRow> {
    assertEnvironmentName(name);
    return writeTransaction(db, async (trx) => {
      if (await environmentRepository.findEnvironmentByName(trx, name)) throw new AlreadyExists('environment', name);
      const row = { id: randomUUID(), name, created_at: now().toISOString() };
      await environmentRepository.insertEnvironments(trx, [row]);
      await audit.record(trx, { actor, action: 'environment_created', environment: name });
      return row;
    });
  }

  /** Creates the configured environments that do not exist yet (at every start, in one transaction). */
  async function ensure(names: readonly string[]): Promise<void> {
    names.forEach(assertEnvironmentName);
    await writeTransaction(db, async (trx) => {
      const existing = new Set((await environmentRepository.listEnvironments(trx)).map((row) => row.name));
      const at = now().toISOString();
      const missing = names.filter((name) => !existing.has(name));
      await environmentRepository.insertEnvironments(
        trx,
        missing.map((name) => ({ id: randomUUID(), name, created_at: at })),
      );
    });
  }

  return { list, byName, byId, create, ensure };
}

export type EnvironmentService = ReturnType<typeof createEnvironmentService>;
