import { onPostgres, type RunningPostgres, SERVER_URL_VARIABLE, startPostgres } from '../helpers/postgres.js';

/**
 * vitest globalSetup: with SECRETSFLY_TEST_ENGINE=postgres, one PostgreSQL server for the whole run
 * (test/helpers/postgres.ts), its URL handed to every worker through the environment. A URL already
 * set (a server of your own) is used as it is.
 */
let server: RunningPostgres | undefined;

export async function setup(): Promise<void> {
  if (!onPostgres || process.env[SERVER_URL_VARIABLE]) return;
  server = await startPostgres();
  process.env[SERVER_URL_VARIABLE] = server.url;
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
