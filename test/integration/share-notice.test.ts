import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, runCli, tempDir } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('e-mail notice of a share', () => {
  const received: { to: string[]; data: string }[] = [];
  let sink: SMTPServer;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    // A local SMTP sink: accepts every message and keeps it.
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const port = (sink.server.address() as AddressInfo).port;
    server = await startTestServer({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SMTP_FROM: 'secretsfly <bot@example.test>',
    });
    await server.ctx.projects.create({ name: 'acme' }, actor);
    token = (await server.ctx.tokens.create({ project: 'acme', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(async () => {
    await server.close();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  });

  it('should tell the recipient a secret is waiting, without the link, its key or the ciphertext', async () => {
    const made = await runCli(['share', 'create', 'the secret', '--notify', 'bob@example.test'], {
      dataDir: tempDir(),
      env: { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token },
    });
    expect(made.code, made.stderr).toBe(0);
    const link = made.stdout.trim();
    expect(received).toHaveLength(1);
    expect(received[0]!.to).toEqual(['bob@example.test']);
    const mail = received[0]!.data;
    expect(mail).toContain('Subject: A secret is waiting for you');
    expect(mail).toContain('shared a secret with you');
    expect(mail).not.toContain(link.split('#')[1]!);
    expect(mail).not.toContain(link.split('#')[0]!.split('/s/')[1]!);
    expect(mail).not.toContain('v1.n.');
  });

  it('should refuse a malformed address before creating anything', async () => {
    const before = (await server.ctx.audit.list({ action: 'share_created' })).length;
    const res = await call(server, '/api/v1/shares', {
      method: 'POST',
      token,
      body: { ciphertext: 'v1.n.a.b.c', ttl: '1h', notify_email: 'not an address' },
    });
    expect([res.status, res.json.error.code]).toEqual([400, 'invalid_request']);
    expect((await server.ctx.audit.list({ action: 'share_created' })).length).toBe(before);
  });
});
