import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit.service.js';
import type { Database } from '../db/database.js';
import type { EnvironmentService } from '../environments/environment.service.js';
import type { KeyService } from '../keys/key.service.js';
import type { Keystore } from '../keys/keystore.js';
import type { ProjectService } from '../projects/project.service.js';
import { createSecretEditService } from './secret-edit.service.js';
import { createSecretMetadataService } from './secret-metadata.service.js';
import { createSecretReadService } from './secret-read.service.js';
import { createScopeLookup } from './secret-scope.js';
import { createReencryptService } from './secret-reencrypt.service.js';
import { createSealedPullService } from './sealed-pull.service.js';
import { createSecretWriteService } from './secret-write.service.js';

export type { ResolvedSecret } from './secret-read.service.js';
export type { SecretSummary } from './secret-metadata.service.js';
export type { ApiClient, ScopeInput } from './secret-scope.js';
export type { WrittenVersion } from './secret-write.service.js';
export type { BulkPreview, BulkRow, RevealedKey } from './secret-edit.service.js';

/**
 * The secrets feature as the rest of the app sees it: reads (secret-read.service.ts) and writes
 * (secret-write.service.ts) over one lookup of project and environment names.
 */
export function createSecretService(deps: {
  db: Kysely<Database>;
  projects: Pick<ProjectService, 'byName' | 'chain'>;
  environments: Pick<EnvironmentService, 'byName' | 'list'>;
  keys: Pick<KeyService, 'withDataKey' | 'bumpRevision' | 'useEnvironmentKeys' | 'requireRootKey'>;
  keystore: Pick<Keystore, 'resolved' | 'lastResolved' | 'rememberResolved' | 'rendered' | 'rememberRendered'>;
  audit: Pick<AuditService, 'record' | 'recordAlone' | 'enqueue'>;
  now: () => Date;
  maxSecretBytes: number;
}) {
  const scopeOf = createScopeLookup(deps);
  const read = createSecretReadService({ ...deps, scopeOf });
  return {
    ...read,
    ...createSecretMetadataService({ ...deps, scopeOf }),
    ...createSecretEditService({ ...deps, scopeOf, resolve: read.resolve }),
    ...createSealedPullService({ ...deps, scopeOf }),
    ...createSecretWriteService({ ...deps, scopeOf }),
    ...createReencryptService(deps),
  };
}

export type SecretService = ReturnType<typeof createSecretService>;
