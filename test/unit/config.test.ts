import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('config', () => {
  it('should apply the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      availableEnvironments: ['prod'],
      masterKeyExpirationSeconds: 300,
      decryptedMinutesBeforeRedirect: 5,
      sessionTtlSeconds: 3600,
      uiEnabled: true,
      maxSecretBytes: 65536,
      masterKeyAttemptsPerMinute: 5,
      apiRequestsPerMinute: 6000,
      loginAttemptsPer15Minutes: 30,
      loginFailuresPerMinute: 5,
      shareRevealsPerMinute: 30,
      trustProxy: false,
      logLevel: 'info',
    });
    expect(config.dataDir).toMatch(/data$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('should name every malformed variable', () => {
    try {
      loadConfig({ ADMIN_MASTER_KEY_EXPIRATION: 'abc', UI_ENABLED: 'maybe', AVAILABLE_ENVIRONMENTS: 'prod,Bad Env' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toContain('ADMIN_MASTER_KEY_EXPIRATION');
      expect(message).toContain('UI_ENABLED');
      expect(message).toContain('AVAILABLE_ENVIRONMENTS');
    }
  });

  it('should read every rate limit from its variable and refuse a limit of zero where that would lock everyone out', () => {
    expect(
      loadConfig({
        API_RATE_LIMIT_PER_MINUTE: '0',
        LOGIN_ATTEMPTS_PER_15_MINUTES: '100',
        LOGIN_FAILURES_PER_MINUTE: '3',
        SHARE_REVEALS_PER_MINUTE: '10',
      }),
    ).toMatchObject({
      apiRequestsPerMinute: 0,
      loginAttemptsPer15Minutes: 100,
      loginFailuresPerMinute: 3,
      shareRevealsPerMinute: 10,
    });
    expect(() => loadConfig({ LOGIN_FAILURES_PER_MINUTE: '0', SHARE_REVEALS_PER_MINUTE: 'many' })).toThrow(
      /LOGIN_FAILURES_PER_MINUTE.*SHARE_REVEALS_PER_MINUTE/,
    );
  });

  it('should take a PostgreSQL DATABASE_URL, and refuse another scheme without echoing its password', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:pw@db:5432/secretsfly',
      INSTANCE_URL: 'http://app1:8080/',
      INSTANCE_NAME: 'app1',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://app:pw@db:5432/secretsfly',
      instanceUrl: 'http://app1:8080',
      instanceName: 'app1',
    });
    expect(loadConfig({ FLY_MACHINE_ID: '0e286039f42e86' })).toMatchObject({
      databaseUrl: undefined,
      instanceName: '0e286039f42e86',
      flyMachineId: '0e286039f42e86',
    });
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/app' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(message).not.toContain('hunter2');
    expect(() => loadConfig({ INSTANCE_URL: 'http://app1:8080' })).toThrow(/INSTANCE_URL.*set DATABASE_URL/);
  });

  it('should split and de-duplicate environments', () => {
    expect(loadConfig({ AVAILABLE_ENVIRONMENTS: 'prod, staging,dev,prod' }).availableEnvironments).toEqual([
      'prod',
      'staging',
      'dev',
    ]);
  });
});

describe('errorSummary', () => {
  it('should keep the class and first line of an unexpected error, without anything quoted', async () => {
    const { errorSummary } = await import('../../src/logger.js');
    const error = new SyntaxError('Unexpected token \'h\', "hunter2-password" is not valid JSON\nat line 2');
    expect(errorSummary(error)).toEqual({
      error: 'SyntaxError',
      message: 'Unexpected token "…", "…" is not valid JSON',
    });
  });
});
