import type { Migration } from 'kysely';
import * as initial from './2026-11-22T0000-initial.js';
import * as shares from './2026-11-23T0000-shares.js';
import * as auditActionIndex from './2026-11-24T0000-audit-action-index.js';
import * as scopedKeys from './2026-11-25T0000-scoped-keys.js';
import * as instances from './2026-11-26T0000-instances.js';
import * as hostHeld from './2026-11-28T0000-host-held.js';
import * as accessLog from './2026-11-28T0100-access-log.js';
import * as typedSecrets from './2026-11-28T0200-typed-secrets.js';
import * as auditActorAtIndexes from './2026-11-28T0300-audit-actor-at-indexes.js';

/**
 * Every migration, by name; names sort in the order they apply. Listed statically (rather than
 * read from the folder) so the same list works from TypeScript sources and from compiled `dist/`.
 * A landed migration is never edited: add a new file.
 */
export const migrations: Record<string, Migration> = {
  '2026-11-22T0000-initial': initial,
  '2026-11-23T0000-shares': shares,
  '2026-11-24T0000-audit-action-index': auditActionIndex,
  '2026-11-25T0000-scoped-keys': scopedKeys,
  '2026-11-26T0000-instances': instances,
  '2026-11-28T0000-host-held': hostHeld,
  '2026-11-28T0100-access-log': accessLog,
  '2026-11-28T0200-typed-secrets': typedSecrets,
  '2026-11-28T0300-audit-actor-at-indexes': auditActorAtIndexes,
};
