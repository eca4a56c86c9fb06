/**
 * Domain errors with a stable `code`. They know nothing of HTTP or the CLI: the HTTP error handler
 * maps codes to statuses, the CLI prints the message on one line and exits 1.
 * Messages never contain a secret value, a master key or a token.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
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

export class NotRepresentable extends AppError {
  constructor(format: string, key: string) {
    super('not_representable', `the value of ${key} cannot be written exactly as ${format}`);
  }
}

export class Sealed extends AppError {
  constructor(project: string) {
    super('sealed', `project "${project}" is sealed: unseal it with its master key first`);
  }
}

export class RateLimited extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super('rate_limited', 'too many requests');
  }

  /** Until a limiter's window resets (a minute when the limiter does not say). */
  static until(resetTime: Date | undefined): RateLimited {
    const ms = (resetTime?.getTime() ?? Date.now() + 60_000) - Date.now();
    return new RateLimited(Math.max(1, Math.ceil(ms / 1000)));
  }
}
