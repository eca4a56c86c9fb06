/**
 * Domain errors with a stable `code`. They know nothing of HTTP or the CLI: the HTTP error handler
 * maps codes to statuses (HTTP_STATUS, checked complete against ErrorCode), the CLI prints the
 * message on one line and exits 1. Messages never contain a secret value, a master key or a token.
 */

/** What a request asked for and cannot have: each has its HTTP status. */
type RequestErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_signature'
  | 'invalid_master_key'
  | 'forbidden'
  | 'not_found'
  | 'already_exists'
  | 'version_conflict'
  | 'key_rotated'
  | 'gone'
  | 'too_large'
  | 'not_representable'
  | 'unresolvable_reference'
  | 'integrity_failed'
  | 'sealed'
  | 'rate_limited';

/** Backup and restore, run from the CLI. */
type StorageErrorCode = 'invalid_backup' | 'database_exists' | 'database_in_use';

/** The CLI's own errors (cli/io.ts: CliError, UsageError). */
type CliErrorCode = 'cli_error' | 'usage';

export type AppErrorCode = RequestErrorCode | StorageErrorCode | CliErrorCode;

/** Every code a caller can see; `internal_error` is never thrown, it is the answer to anything unexpected. */
export type ErrorCode = AppErrorCode | 'internal_error';

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends AppError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}

export class NotFound extends AppError {
  constructor(what: string, name: string) {
    super('not_found', `${what} "${name}" not found`);
  }
}

/** No route or page answers this address (or a one-time link that is spent). */
export class NoSuchRoute extends AppError {
  constructor(message = 'There is nothing here.') {
    super('not_found', message);
  }
}

export class AlreadyExists extends AppError {
  constructor(what: string, name: string) {
    super('already_exists', `${what} "${name}" already exists`);
  }
}

export class InvalidMasterKey extends AppError {
  constructor() {
    super('invalid_master_key', 'invalid master key');
  }
}

export class InvalidToken extends AppError {
  constructor() {
    // Don't say whether the token was unknown, revoked or expired.
    super('invalid_token', 'invalid or expired service token');
  }
}

/** A Slack request whose signature does not check out. */
export class BadSignature extends AppError {
  constructor(why: string) {
    super('invalid_signature', `Slack signature refused: ${why}`);
  }
}

export class Forbidden extends AppError {
  constructor(message = 'this token may not do that') {
    super('forbidden', message);
  }
}

export class TooLarge extends AppError {
  constructor(message: string) {
    super('too_large', message);
  }
}

export class VersionConflict extends AppError {
  constructor(key: string, current: number) {
    super('version_conflict', `${key} is at version ${current}`);
  }
}

/**
 * A stored ciphertext failed its AEAD check: it was altered, or moved to another row, environment,
 * project or tree, in the database. Nothing is served or written from it; the key is named so an
 * operator can find it (restore it from a backup, or write it again).
 */
export class IntegrityFailed extends AppError {
  constructor(where: string) {
    super(
      'integrity_failed',
      `the stored value of ${where} failed its integrity check: it was altered or moved in the database, so it was not used`,
    );
  }
}

export class KeyRotatedMeanwhile extends AppError {
  constructor() {
    super(
      'key_rotated',
      'the keys of this project changed during the operation (a rotation, or its conversion to environment keys): try again',
    );
  }
}

export class ShareGone extends AppError {
  constructor(readonly state: string) {
    super('gone', state === 'viewed' ? 'this secret has already been viewed' : `this secret is ${state}`);
  }
}

/**
 * A dotenv file with lines the parser would not read as written: nothing is imported unless the
 * caller allows it. `warnings` are one line each (line number, key, what happens), never a value.
 */
export class SurprisingDotenv extends InvalidRequest {
  constructor(readonly warnings: readonly string[]) {
    super(
      `nothing was imported: ${warnings.length} line${warnings.length === 1 ? '' : 's'} of the file would not be read as written (${warnings[0]}); fix them, or allow warnings to import anyway`,
    );
  }
}

export class NotRepresentable extends AppError {
  constructor(format: string, key: string) {
    super('not_representable', `the value of ${key} cannot be written exactly as ${format}`);
  }
}

export class Sealed extends AppError {
  constructor(
    readonly project: string,
    message = `project "${project}" is sealed: unseal it with its master key first`,
  ) {
    super('sealed', message);
  }
}

export class RateLimited extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'too many requests',
  ) {
    super('rate_limited', message);
  }

  /** Until a limiter's window resets (a minute when the limiter does not say). */
  static until(resetTime: Date | undefined, message?: string): RateLimited {
    const ms = (resetTime?.getTime() ?? Date.now() + 60_000) - Date.now();
    return new RateLimited(Math.max(1, Math.ceil(ms / 1000)), message);
  }
}

export class InvalidBackup extends AppError {
  constructor(fileName: string) {
    super('invalid_backup', `${fileName} is not an intact secretsfly backup`);
  }
}

export class DatabaseExists extends AppError {
  constructor(target: string) {
    super('database_exists', `${target} already holds a database: pass --force to replace it`);
  }
}

export class DatabaseInUse extends AppError {
  constructor(dataDir: string) {
    super(
      'database_in_use',
      `a secretsfly server is using ${dataDir}: stop it first (Ctrl-C, kill -TERM, or stop its container or machine), then try again`,
    );
  }
}

/**
 * A setting that keeps the program from starting or opening its data (a bad variable, a taken port,
 * an unusable DATA_DIR): not a request's error, so it has no HTTP status. The CLI and `serve` print
 * it as one line and exit 1.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
  }
}
