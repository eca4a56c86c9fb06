import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FormClient } from '../helpers/form-client.js';
import { actor, readAllStored } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('audit actor of a failed sign-in', () => {
  let server: TestServer;
  let masterKey: string;

  beforeEach(async () => {
    server = await startTestServer();
    await server.ctx.users.create('admin', 'correct horse battery', actor);
    masterKey = (await server.ctx.projects.create({ name: 'acme' }, actor)).masterKey!;
  });
  afterEach(() => server.close());

  it('should not store a master key typed into the username field in any file under DATA_DIR', async () => {
    const browser = new FormClient(server.url);
    const answer = await browser.submit('/login', '/login', { username: masterKey, password: 'whatever-it-is' });
    expect(answer.status).toBe(401);
    await server.close();

    const leaked = (await readAllStored(server.dataDir)).filter(({ content }) => content.includes(masterKey));
    expect(leaked.map(({ file }) => file)).toEqual([]);
    expect(server.logLines.join('')).not.toContain(masterKey);
  });

  it('should record an unknown username as a short hash, and a known one as typed', async () => {
    const browser = new FormClient(server.url);
    await browser.submit('/login', '/login', { username: masterKey, password: 'whatever-it-is' });
    await browser.submit('/login', '/login', { username: 'admin', password: 'wrong horse battery' });
    const failed = await server.ctx.audit.list({ action: 'login_failed' });
    expect(failed.map((e) => e.actor)).toEqual(['user:admin', expect.stringMatching(/^user:\?[0-9a-f]{12}$/)]);
  });
});
