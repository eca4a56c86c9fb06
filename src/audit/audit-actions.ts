/**
 * Every action the audit log records: the one list the service's type, the UI's filter and the
 * CLI's `audit --action` read from.
 */
export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'csrf_refused',
  'setup_failed',
  'unseal',
  'unseal_failed',
  'seal',
  'auto_seal',
  'project_created',
  'environment_created',
  'user_created',
  'secret_written',
  'secret_deleted',
  'secret_rolled_back',
  'secrets_revealed',
  'api_read',
  'api_write',
  'api_denied',
  'token_created',
  'token_revoked',
  'key_rotated',
  'reencrypted',
  'environment_keys',
  'imported',
  'share_created',
  'share_viewed',
  'share_burned',
  'share_expired',
  'dm_failed',
  'token_rejected',
  'share_reveal_refused',
  'audit_dropped',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const isAuditAction = (name: string): name is AuditAction => (AUDIT_ACTIONS as readonly string[]).includes(name);
