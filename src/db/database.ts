import type { AuditEventTable } from '../audit/audit.table.js';
import type { EnvironmentTable } from '../environments/environment.table.js';
import type { RootKeyTable } from '../keys/root-key.table.js';
import type { ProjectTable } from '../projects/project.table.js';
import type { SecretTable, SecretVersionTable } from '../secrets/secret.table.js';
import type { ShareTable } from '../shares/share.table.js';
import type { ServiceTokenTable } from '../tokens/token.table.js';
import type { UserTable } from '../users/user.table.js';

export interface Database {
  environments: EnvironmentTable;
  projects: ProjectTable;
  root_keys: RootKeyTable;
  secrets: SecretTable;
  secret_versions: SecretVersionTable;
  service_tokens: ServiceTokenTable;
  users: UserTable;
  audit_events: AuditEventTable;
  shares: ShareTable;
}
