import { masterKeyBytes } from '../../src/keys/master-key.js';
import { actor } from './test-context.js';
import type { TestServer } from './test-server.js';

/**
 * An app host for the host-held secrets tests: a root project `project` on `server` and a keyed
 * read_write token for its prod environment (what `agent sync` needs), as client variables.
 */
export async function agentHost(server: TestServer, project = 'app') {
  const masterKey = (await server.ctx.projects.create({ name: project }, actor)).masterKey!;
  const { token } = await server.ctx.tokens.create(
    { project, environment: 'prod', access: 'read_write', keyed: { masterKey: masterKeyBytes(masterKey) } },
    actor,
  );
  return { masterKey, env: { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token } };
}
