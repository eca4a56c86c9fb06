import { ConfigError } from './errors.js';
import path from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** PostgreSQL (`postgres://…`): all state there, any number of instances. Unset: SQLite in dataDir. */
  readonly databaseUrl: string | undefined;
  /** Where the other instances reach this one (admin pages follow the unseal there); PostgreSQL only. */
  readonly instanceUrl: string | undefined;
  /** The name the UI shows for this instance: INSTANCE_NAME, else Fly's machine id, else the host name. */
  readonly instanceName: string | undefined;
  /** Fly.io's machine id (set by Fly): admin pages follow the unseal with a `fly-replay` header. */
  readonly flyMachineId: string | undefined;
  readonly availableEnvironments: readonly string[];
  /** Seconds after which an unsealed root project seals itself again. */
  readonly masterKeyExpirationSeconds: number;
  readonly decryptedMinutesBeforeRedirect: number;
  /** Absolute admin session lifetime from sign-in, in seconds. */
  readonly sessionTtlSeconds: number;
  /** An admin session ends after this many seconds without a request. */
  readonly sessionIdleTimeoutSeconds: number;
  readonly sessionSecret: string | undefined;
  readonly uiEnabled: boolean;
  readonly maxSecretBytes: number;
  /** Wrong master keys per minute per token and client address (API), per admin and root (UI). */
  readonly masterKeyAttemptsPerMinute: number;
  /** Wrong master keys per minute per token from all addresses together: bounds a spread-out guesser. */
  readonly masterKeyAttemptsPerTokenPerMinute: number;
  /** API requests per minute per client IP; 0 turns the limit off. */
  readonly apiRequestsPerMinute: number;
  /** Sign-in attempts per client IP per 15 minutes. */
  readonly loginAttemptsPer15Minutes: number;
  /** Failed sign-ins per username and client IP per minute. */
  readonly loginFailuresPerMinute: number;
  /** One-time share reveals per client IP per minute. */
  readonly shareRevealsPerMinute: number;
  readonly trustProxy: boolean;
  readonly logLevel: LogLevel;
  /** Creating a one-time share needs an admin session or a read_write token. */
  readonly sharesRequireAuth: boolean;
  /** Largest share ciphertext accepted, in characters (the encrypted, encoded text). */
  readonly shareMaxBytes: number;
  /** Where users reach this server (links in Slack DMs); unset: the address the server listens on. */
  readonly publicUrl: string | undefined;
  /** SMTP server for optional e-mail notices (smtp://user:pass@host:port or smtps://…). */
  readonly smtp: { readonly url: string; readonly from: string } | undefined;
  /** Slack: the app's signing secret and bot token; without both, the Slack routes answer 404. */
  readonly slack: { readonly signingSecret: string; readonly botToken: string; readonly apiUrl: string } | undefined;
}

export const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

type Env = Record<string, string | undefined>;

/** Reads every variable once; collects all problems so one run names every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  if (env.SMTP_URL?.trim() && !/^smtps?:\/\//.test(env.SMTP_URL.trim()))
    problems.push('SMTP_URL must start with smtp:// or smtps://');

  const url = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be an http(s) URL, got "${raw}"`);
      return undefined;
    }
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const normalized = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(normalized)) return true;
    if (['false', '0', 'no', 'off'].includes(normalized)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };

  const environments = (env.AVAILABLE_ENVIRONMENTS ?? 'prod')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const badEnvironments = environments.filter((name) => !ENVIRONMENT_NAME.test(name));
  if (environments.length === 0 || badEnvironments.length > 0) {
    problems.push(
      `AVAILABLE_ENVIRONMENTS must be comma-separated names matching ${ENVIRONMENT_NAME.source}, got "${env.AVAILABLE_ENVIRONMENTS}"`,
    );
  }

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/./.test(databaseUrl)) {
    // Never echo it: a database URL usually carries a password.
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL (unset: SQLite in DATA_DIR)');
  }
  const instanceUrl = url('INSTANCE_URL');
  if (instanceUrl !== undefined && databaseUrl === undefined) {
    problems.push('INSTANCE_URL is for several instances on PostgreSQL: set DATABASE_URL too, or unset INSTANCE_URL');
  }

  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of debug, info, warn, error, got "${env.LOG_LEVEL}"`);
  }

  const host = (env.HOST ?? '127.0.0.1').trim();
  if (host === '') problems.push('HOST must not be empty');

  const sessionSecret = env.SESSION_SECRET;
  if (sessionSecret !== undefined && sessionSecret !== '' && sessionSecret.length < 32) {
    problems.push('SESSION_SECRET must be at least 32 characters long');
  }

  const config: Config = {
    port: integer('PORT', 8080, 0, 65535),
    host,
    dataDir: path.resolve(env.DATA_DIR && env.DATA_DIR.trim() !== '' ? env.DATA_DIR : './data'),
    databaseUrl,
    instanceUrl,
    instanceName: env.INSTANCE_NAME?.trim().slice(0, 64) || env.FLY_MACHINE_ID?.trim() || undefined,
    flyMachineId: env.FLY_MACHINE_ID?.trim() || undefined,
    availableEnvironments: [...new Set(environments)],
    masterKeyExpirationSeconds: integer('ADMIN_MASTER_KEY_EXPIRATION', 300, 1, 7 * 24 * 3600),
    decryptedMinutesBeforeRedirect: integer('NB_MINUTES_DECRYPTED_BEFORE_REDIRECT', 5, 1, 24 * 60),
    sessionTtlSeconds: integer('SESSION_TTL', 3600, 60, 30 * 24 * 3600),
    sessionIdleTimeoutSeconds: integer('SESSION_IDLE_TIMEOUT', 900, 60, 30 * 24 * 3600),
    sessionSecret: sessionSecret === '' ? undefined : sessionSecret,
    uiEnabled: boolean('UI_ENABLED', true),
    maxSecretBytes: integer('MAX_SECRET_BYTES', 65536, 1, 1024 * 1024 - 1024),
    masterKeyAttemptsPerMinute: integer('MASTER_KEY_ATTEMPTS_PER_MINUTE', 5, 1, 10_000),
    masterKeyAttemptsPerTokenPerMinute: integer('MASTER_KEY_ATTEMPTS_PER_TOKEN_PER_MINUTE', 50, 1, 100_000),
    apiRequestsPerMinute: integer('API_RATE_LIMIT_PER_MINUTE', 6000, 0, 10_000_000),
    loginAttemptsPer15Minutes: integer('LOGIN_ATTEMPTS_PER_15_MINUTES', 30, 1, 100_000),
    loginFailuresPerMinute: integer('LOGIN_FAILURES_PER_MINUTE', 5, 1, 10_000),
    shareRevealsPerMinute: integer('SHARE_REVEALS_PER_MINUTE', 30, 1, 100_000),
    trustProxy: boolean('TRUST_PROXY', false),
    logLevel: logLevel as LogLevel,
    sharesRequireAuth: boolean('SHARES_REQUIRE_AUTH', true),
    shareMaxBytes: integer('SHARE_MAX_BYTES', 131072, 256, 1024 * 1024 - 4096),
    publicUrl: url('PUBLIC_URL'),
    smtp: env.SMTP_URL?.trim()
      ? { url: env.SMTP_URL.trim(), from: env.SMTP_FROM?.trim() || 'secretsfly <no-reply@localhost>' }
      : undefined,
    slack:
      env.SLACK_SIGNING_SECRET && env.SLACK_BOT_TOKEN
        ? {
            signingSecret: env.SLACK_SIGNING_SECRET,
            botToken: env.SLACK_BOT_TOKEN,
            apiUrl: url('SLACK_API_URL') ?? 'https://slack.com/api',
          }
        : undefined,
  };
  if ((env.SLACK_SIGNING_SECRET ? 1 : 0) + (env.SLACK_BOT_TOKEN ? 1 : 0) === 1) {
    problems.push('SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN go together: set both or neither');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, availableEnvironments: Object.freeze([...config.availableEnvironments]) });
}
