import { execFileSync } from 'node:child_process';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDotenv } from '../../src/formats/dotenv.js';
import { toShell } from '../../src/formats/shell.js';
import { NotRepresentable } from '../../src/errors.js';
import { actor } from '../helpers/test-context.js';
import { call, startTestServer, type TestServer } from '../helpers/test-server.js';

const NASTY: Record<string, string> = {
  PLAIN: 'simple',
  EMPTY: '',
  NEWLINES: 'line one\nline two\n',
  CRLF: 'windows\r\nline',
  DOUBLE_QUOTES: 'say "hello"',
  SINGLE_QUOTES: "it's here",
  BOTH_QUOTES: `it's "both"`,
  BACKTICK: 'run `cmd`',
  HASH: 'value # not a comment',
  LEADING_HASH: '#starts-with-hash',
  EQUALS: 'a=b=c',
  DOLLAR: '$HOME and ${PATH} and $(whoami)',
  BACKSLASHES: 'C:\\path\\to\\n\\file \\\\ end',
  SPACES: '  surrounded by spaces  ',
  TABS: '\tindented\t',
  UNICODE: 'ünïcødé 日本語 🔐',
  PEM: '-----BEGIN KEY-----\nMIIB\'"`\n-----END KEY-----',
  JSON_VALUE: '{"a": [1, "two"], "b": null}',
  SEMICOLON: 'a; rm -rf / #',
};

function evalInSh(script: string, key: string): string {
  // printf, not echo: echo would interpret backslashes in some shells.
  return execFileSync('sh', ['-c', `eval "$(cat)"; printf '%s' "$${key}"`], { input: script, encoding: 'utf8' });
}

describe('dotenv and shell formats', () => {
  it('should write dotenv that the dotenv parser reads back to exactly the same map', () => {
    const document = toDotenv(new Map(Object.entries(NASTY)));
    expect(parse(document)).toEqual(NASTY);
  });

  it('should refuse, naming the key, a value dotenv cannot carry exactly', () => {
    const impossible = new Map([
      ['FINE', 'ok'],
      ['IMPOSSIBLE', 'has \\n escapes, a\nnewline and \' " ` all quotes'],
    ]);
    expect(() => toDotenv(impossible)).toThrow(NotRepresentable);
    expect(() => toDotenv(impossible)).toThrow(/IMPOSSIBLE/);
  });

  it('should write shell that eval in sh restores exactly', () => {
    const script = toShell(new Map(Object.entries(NASTY)));
    for (const [key, value] of Object.entries(NASTY)) {
      expect(evalInSh(script, key), key).toBe(value);
    }
  });

  it('should refuse a NUL byte in shell output', () => {
    expect(() => toShell(new Map([['NUL', 'a\0b']]))).toThrow(/NUL/);
  });
});

describe('formats over HTTP', () => {
  let server: TestServer;
  let token: string;
  let masterKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'fmt' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    for (const [key, value] of Object.entries(NASTY)) {
      // `$${` writes a literal `${` (a reference otherwise): what is pulled is the value itself.
      await server.ctx.secrets.set(
        { project: 'fmt', environment: 'prod', key, value: value.replaceAll('${', () => '$${') },
        access,
        actor,
      );
    }
    token = (await server.ctx.tokens.create({ project: 'fmt', environment: 'prod', access: 'read_write' }, actor))
      .token;
  });
  afterAll(() => server.close());

  it('should serve dotenv and shell as text/plain that parse back exactly', async () => {
    const dotenv = await call(server, '/api/v1/secrets?format=dotenv', { token, masterKey });
    expect(dotenv.status).toBe(200);
    expect(dotenv.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(dotenv.headers.get('cache-control')).toBe('no-store');
    expect(parse(dotenv.text)).toEqual(NASTY);

    const shell = await call(server, '/api/v1/secrets?format=shell', { token, masterKey });
    expect(shell.headers.get('content-type')).toMatch(/^text\/plain/);
    for (const [key, value] of Object.entries(NASTY)) expect(evalInSh(shell.text, key), key).toBe(value);
  });

  it('should answer 422 not_representable instead of an altered value', async () => {
    await call(server, '/api/v1/secrets/IMPOSSIBLE', {
      method: 'PUT',
      token,
      masterKey,
      body: { value: 'has \\n escapes, a\nnewline and \' " ` all quotes' },
    });
    const res = await call(server, '/api/v1/secrets?format=dotenv', { token, masterKey });
    expect(res.status).toBe(422);
    expect(res.json.error).toEqual({ code: 'not_representable', message: expect.stringContaining('IMPOSSIBLE') });
    // JSON carries it exactly.
    expect((await call(server, '/api/v1/secrets', { token, masterKey })).json.secrets.IMPOSSIBLE).toContain(
      'all quotes',
    );
  });
});
