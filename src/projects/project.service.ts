import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { AlreadyExists, InvalidRequest, NotFound } from '../errors.js';
import type { KeyService } from '../keys/key.service.js';
import type { Keystore } from '../keys/keystore.js';
import { assertChosenMasterKey, generateMasterKey, masterKeyBytes } from '../keys/master-key.js';
import { immutableRows } from '../db/immutable-rows.js';
import { chainOf, MAX_DEPTH } from './hierarchy.js';
import { projectRepository } from './project.repository.js';
import type { ProjectRow } from './project.table.js';

export const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface ProjectView {
  readonly id: string;
  readonly name: string;
  readonly parent: string | null;
  readonly root: string;
  readonly isRoot: boolean;
  readonly createdAt: string;
  /** Set while the admin session asking (the holder passed to view/list) has the root unsealed. */
  readonly unsealedUntil: Date | null;
}

export function assertProjectName(name: string): void {
  if (!PROJECT_NAME.test(name)) {
    throw new InvalidRequest(
      `invalid project name "${name.slice(0, 70)}": use a-z, 0-9 and "-", starting with a letter or digit, up to 63 characters`,
    );
  }
}

export function createProjectService(deps: {
  db: Kysely<Database>;
  keys: Pick<KeyService, 'prepareRootKey' | 'storeRootKey'>;
  keystore: Pick<Keystore, 'unsealedUntil'>;
  audit: Pick<AuditService, 'record'>;
  now: () => Date;
}) {
  const { db, keys, keystore, audit, now } = deps;

  // Projects are never renamed, re-parented or deleted: rows and chains read once stay true.
  const byName = immutableRows(
    (name: string) => projectRepository.findProjectByName(db, name),
    (name) => new NotFound('project', name),
  );
  const byId = immutableRows(
    (id: string) => projectRepository.findProjectById(db, id),
    (id) => new NotFound('project', id),
  );
  const chains = new Map<string, ProjectRow[]>();

  /** The project's chain from its root down to itself. */
  async function chain(project: ProjectRow): Promise<ProjectRow[]> {
    let found = chains.get(project.id);
    if (!found) {
      found = chainOf(project, await projectRepository.listTreeRows(db, project.root_id));
      chains.set(project.id, found);
    }
    return found;
  }

  async function rootOf(project: ProjectRow): Promise<ProjectRow> {
    return project.root_id === project.id ? project : byName((await chain(project))[0]!.name);
  }

  /**
   * A root project gets a data key wrapped under its master key (`masterKey`, else a generated one,
   * returned once). A child project uses its root's key and needs no master key.
   */
  async function create(
    input: { name: string; parent?: string | undefined; masterKey?: string | undefined },
    actor: Actor,
  ): Promise<{ project: ProjectView; masterKey?: string }> {
    assertProjectName(input.name);
    if (input.parent !== undefined && input.parent === input.name) {
      throw new InvalidRequest('a project cannot be its own parent');
    }
    if (await projectRepository.findProjectByName(db, input.name)) throw new AlreadyExists('project', input.name);

    const id = randomUUID();
    const at = now().toISOString();
    if (input.parent !== undefined) {
      if (input.masterKey !== undefined) {
        throw new InvalidRequest("only a root project takes a master key; a child uses its root's");
      }
      const parent = await byName(input.parent);
      if ((await chain(parent)).length >= MAX_DEPTH) {
        throw new InvalidRequest(`projects nest at most ${MAX_DEPTH} levels deep`);
      }
      const row: ProjectRow = { id, name: input.name, parent_id: parent.id, root_id: parent.root_id, created_at: at };
      await writeTransaction(db, async (trx) => {
        if (await projectRepository.findProjectByName(trx, input.name)) throw new AlreadyExists('project', input.name);
        await projectRepository.insertProject(trx, row);
        await audit.record(trx, { actor, action: 'project_created', projectId: id, details: { parent: parent.name } });
      });
      return { project: toView(row, [parent, row]) };
    }

    if (input.masterKey !== undefined) assertChosenMasterKey(input.masterKey);
    const masterKey = input.masterKey ?? generateMasterKey();
    const bytes = masterKeyBytes(masterKey);
    let rootKey;
    try {
      rootKey = await keys.prepareRootKey(id, bytes);
    } finally {
      bytes.fill(0);
    }
    const row: ProjectRow = { id, name: input.name, parent_id: null, root_id: id, created_at: at };
    await writeTransaction(db, async (trx) => {
      if (await projectRepository.findProjectByName(trx, input.name)) throw new AlreadyExists('project', input.name);
      await projectRepository.insertProject(trx, row);
      await keys.storeRootKey(trx, rootKey);
      await audit.record(trx, { actor, action: 'project_created', projectId: id, details: { root: true } });
    });
    return input.masterKey === undefined ? { project: toView(row, [row]), masterKey } : { project: toView(row, [row]) };
  }

  /** One project as the UI shows it; `holder`: the admin session looking, whose own unseal it shows (none: sealed). */
  async function view(name: string, holder?: string): Promise<ProjectView> {
    const row = await byName(name);
    return toView(row, await chain(row), holder);
  }

  async function list(holder?: string): Promise<ProjectView[]> {
    const rows = await projectRepository.listProjectRows(db);
    return rows.map((row) =>
      toView(
        row,
        chainOf(
          row,
          rows.filter((r) => r.root_id === row.root_id),
        ),
        holder,
      ),
    );
  }

  function toView(row: ProjectRow, chainRows: readonly ProjectRow[], holder?: string): ProjectView {
    const parent = chainRows.length > 1 ? chainRows[chainRows.length - 2]! : null;
    return {
      id: row.id,
      name: row.name,
      parent: parent?.name ?? null,
      root: chainRows[0]!.name,
      isRoot: row.parent_id === null,
      createdAt: row.created_at,
      unsealedUntil: keystore.unsealedUntil(row.root_id, holder) ?? null,
    };
  }

  return { byName, byId, chain, rootOf, create, view, list };
}

export type ProjectService = ReturnType<typeof createProjectService>;
