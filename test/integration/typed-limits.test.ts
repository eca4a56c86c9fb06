import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actor, ROOT } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * What a write token can make the server spend while validating a typed secret, and what a refusal
 * may say. Opening an encrypted key runs the KDF its file asks for, on the server's event loop: a
 * key asking for more than KEY_KDF_LIMITS is refused before anything opens it. Fields larger than a
 * value may be are refused before anything parses them. A malformed reference is named by position,
 * never by its text (the message can reach a flash message in the session store, or a log).
 */
const read = (name: string) => fs.readFileSync(path.join(ROOT, 'test/fixtures/typed', name), 'utf8');

describe('the limits of a typed write', () => {
  let server: TestServer;
  let writer: string;
  const put = (key: string, body: unknown) =>
    call(server, `/api/v1/secrets/${key}`, { method: 'PUT', token: writer, body });

  beforeAll(async () => {
    server = await startTestServer({ MAX_SECRET_BYTES: '65536' });
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    writer = (
      await server.ctx.tokens.create(
        {
          project: 'app',
          environment: 'prod',
          access: 'read_write',
          keyed: { masterKey: new TextEncoder().encode(masterKey) },
        },
        actor,
      )
    ).token;
  });
  afterAll(() => server?.close());

  it('should refuse an encrypted key whose KDF asks for more than the limit, before opening it', async () => {
    const ssh = await put('DEPLOY', {
      type: 'ssh_key',
      fields: { private_key: read('id_ed25519_costly'), passphrase: 'correct-horse' },
    });
    expect([ssh.status, ssh.json.error.message]).toEqual([
      400,
      'DEPLOY: the field "private_key" asks for 200 bcrypt rounds (at most 32) to open: re-encrypt it with a lower cost (e.g. ssh-keygen -p -a 16)',
    ]);
    const tls = await put('TLS', {
      type: 'certificate',
      fields: { certificate: read('tls.crt'), private_key: read('tls-costly.key'), passphrase: 'correct-horse' },
    });
    expect([tls.status, tls.json.error.message]).toEqual([
      400,
      'TLS: the field "private_key" asks for 5000000 PBKDF2 iterations (at most 100000) to open: re-encrypt it with a lower cost (e.g. ssh-keygen -p -a 16)',
    ]);
    // Keys at an ordinary cost still open and are checked.
    const ok = await put('TLS', {
      type: 'certificate',
      fields: { certificate: read('tls.crt'), private_key: read('tls-encrypted.key'), passphrase: 'correct-horse' },
    });
    expect(ok.status, ok.text).toBe(200);
    const sshOk = await put('DEPLOY', {
      type: 'ssh_key',
      fields: { private_key: read('id_ed25519_encrypted'), passphrase: 'correct-horse' },
    });
    expect(sshOk.status, sshOk.text).toBe(200);
  });

  it('should refuse fields larger than a value before parsing them', async () => {
    // Unclosed PEM headers: the shape that made a backtracking search quadratic.
    const chain = '-----BEGIN A-----\n'.repeat(5000);
    const res = await put('CHAIN', { type: 'certificate', fields: { certificate: read('tls.crt'), ca_chain: chain } });
    expect([res.status, res.json.error.code]).toEqual([413, 'too_large']);
    const small = await put('CHAIN', {
      type: 'certificate',
      fields: { certificate: read('tls.crt'), ca_chain: '-----BEGIN A-----\n'.repeat(100) },
    });
    expect([small.status, small.json.error.message]).toEqual([
      400,
      'CHAIN: the field "ca_chain" holds no PEM certificate',
    ]);
  });

  it('should name a malformed reference by its position, never by its text', async () => {
    const res = await put('BAD', { value: 'pa55-${secret-canary' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('at character 6');
    expect(res.text).not.toContain('canary');
  });
});
