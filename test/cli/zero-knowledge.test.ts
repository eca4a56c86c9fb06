import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey43, KEYED_TOKEN, tokenKeys, tokenProof } from '../../src/crypto/scoped-keys.js';
import { actor, createTestContext, runCli, runProcess, tempDir } from '../helpers/test-context.js';
import { call, spawnServe, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The zero-knowledge pull, proved from the outside: the real CLI in a child process, a real server,
 * and every byte between them captured. With a keyed SECRETSFLY_TOKEN and no master key anywhere,
 * `pull` and `run` must print the exact values while the server never sees the token's secret, its
 * wrapping key or a value; and an answer a malicious server altered must be refused whole.
 */

// Each value carries a canary of its own, searched for as well: a partial leak is still a leak.
const VALUES: Record<string, string> = {
  DATABASE_URL: 'postgres://zk-user:zk-db-canary-Pa55@db.internal:5432/app?sslmode=require', // inherited from the root
  MULTILINE: '-----BEGIN ZK KEY-----\nzk-multiline-canary\r\nline three\n-----END ZK KEY-----',
  QUOTES: `it's a "quoted" \`back\` zk-quotes-canary`,
  DOLLAR: '$HOME ${PATH} $(id) `id` \\$escaped zk-dollar-canary',
  UNICODE: 'héllo wörld — 日本語 🔐 zk-unicode-canary',
  BOM: '\uFEFFbom-led zk-bom-canary value',
  PADDED: '  leading and trailing spaces zk-padded-canary  ',
};
const CANARIES = Object.values(VALUES).map((value) => /zk-[a-z]+-canary/.exec(value)![0]);
const printEnv = (keys: readonly string[]) =>
  `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(keys)}.map((k) => [k, process.env[k] ?? null]))))`;

/** What an eavesdropper may search a byte stream for: raw, hex, base64 and base64url at any alignment. */
function spellings(bytes: Buffer): { how: string; text: string; caseless?: boolean }[] {
  const out: { how: string; text: string; caseless?: boolean }[] = [
    { how: 'raw', text: bytes.toString('latin1') },
    { how: 'hex', text: bytes.toString('hex'), caseless: true },
  ];
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    // The first group holds the shifted-in bytes, the last may hold padding or what follows: off.
    const core = encoded.slice(shift ? 4 : 0, -4);
    if (core.length < 8) continue;
    out.push({ how: `base64 (shift ${shift})`, text: core });
    out.push({ how: `base64url (shift ${shift})`, text: core.replace(/\+/g, '-').replace(/\//g, '_') });
  }
  return out;
}

/** A text is also searched for as JSON and URL escapes would spell it, and as UTF-16. */
function textSpellings(text: string) {
  const utf8 = Buffer.from(text, 'utf8');
  const escapedJson = JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [
    ...spellings(utf8),
    { how: 'JSON string', text: Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8').toString('latin1') },
    { how: 'JSON with \\u escapes', text: escapedJson, caseless: true },
    { how: 'percent-encoded', text: encodeURIComponent(text), caseless: true },
    { how: 'UTF-16LE', text: Buffer.from(text, 'utf16le').toString('latin1') },
  ];
}

/** Every `what as how` found in `haystack`; [] when nothing leaked. */
function leaks(haystack: Buffer | string, needles: Record<string, ReturnType<typeof spellings>>): string[] {
  const exact =
    typeof haystack === 'string' ? Buffer.from(haystack, 'utf8').toString('latin1') : haystack.toString('latin1');
  const lower = exact.toLowerCase();
  const found: string[] = [];
  for (const [what, forms] of Object.entries(needles)) {
    for (const { how, text, caseless } of forms) {
      if (caseless ? lower.includes(text.toLowerCase()) : exact.includes(text)) found.push(`${what} as ${how}`);
    }
  }
  return found;
}

/** The keyed token's secret and both its keys: what must never leave the client (the auth key may). */
function tokenMaterial(token: string) {
  const [, id, secretText] = KEYED_TOKEN.exec(token)!;
  const secret = decodeKey43(secretText!)!;
  const { authKey, wrappingKey } = tokenKeys(id!, secret);
  return {
    id: id!,
    secretText: secretText!,
    secret: Buffer.from(secret),
    authKey,
    wrappingKey: Buffer.from(wrappingKey),
  };
}

function secretNeedles(token: string, values: readonly string[]) {
  const { secret, secretText, wrappingKey } = tokenMaterial(token);
  const needles: Record<string, ReturnType<typeof spellings>> = {
    'the whole token': [{ how: 'raw', text: token }],
    "the token's secret text": [{ how: 'raw', text: secretText }],
    "the token's secret bytes": spellings(secret),
    'the wrapping key': spellings(wrappingKey),
  };
  values.forEach((value, i) => (needles[`value #${i}`] = textSpellings(value)));
  return needles;
}

const valueNeedles = (values: readonly string[]) =>
  Object.fromEntries(values.map((value, i) => [`value #${i}`, textSpellings(value)]));

/** A TCP proxy to `target` that keeps every byte of every connection, both ways. */
async function capturingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    client.on('data', (chunk) => (toServer.push(chunk), upstream.write(chunk)));
    upstream.on('data', (chunk) => (toClient.push(chunk), client.write(chunk)));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    sent: () => Buffer.concat(toServer),
    received: () => Buffer.concat(toClient),
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}

/**
 * The CLI with nothing but the client's variables: no DATA_DIR and no master key, so it can only
 * have decrypted with the token itself (runCli adds PATH, HOME and the test KDF, nothing else).
 */
const client = (args: string[], env: Record<string, string>) => runCli(args, { dataDir: '', env });

describe('a zero-knowledge pull, seen on the wire and in the server log', () => {
  let serve: Awaited<ReturnType<typeof spawnServe>>;
  let proxy: Awaited<ReturnType<typeof capturingProxy>>;
  let token: string;
  let writer: string;

  beforeAll(async () => {
    const ctx = await createTestContext();
    const masterKey = (await ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await ctx.projects.create({ name: 'app-api', parent: 'app' }, actor);
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    for (const [key, value] of Object.entries(VALUES)) {
      const project = key === 'DATABASE_URL' ? 'app' : 'app-api';
      // `$${` writes a literal `${` (a reference otherwise): what is pulled is the value itself.
      await ctx.secrets.set(
        { project, environment: 'prod', key, value: value.replaceAll('${', () => '$${') },
        access,
        actor,
      );
    }
    ({ token } = await ctx.tokens.create(
      {
        project: 'app-api',
        environment: 'prod',
        access: 'read',
        keyed: { masterKey: new TextEncoder().encode(masterKey) },
      },
      actor,
    ));
    writer = (
      await ctx.tokens.create(
        { project: 'app-api', environment: 'prod', access: 'read_write', keyed: { masterKey: access.masterKey } },
        actor,
      )
    ).token;
    await ctx.close();
    // The server as its own process, at debug level: its whole output is kept.
    serve = await spawnServe(ctx.dataDir, { LOG_LEVEL: 'debug', AVAILABLE_ENVIRONMENTS: 'prod,staging' });
    proxy = await capturingProxy(serve.url);
  });

  afterAll(async () => {
    await proxy?.close();
    if (serve && serve.child.exitCode === null) {
      const exited = new Promise((resolve) => serve.child.once('exit', resolve));
      serve.child.kill('SIGTERM');
      await exited;
    }
  });

  it('should print the exact values while the server sees no secret, no wrapping key and no value', async () => {
    const env = { SECRETSFLY_URL: proxy.url, SECRETSFLY_TOKEN: token, SECRETSFLY_STATE_DIR: tempDir() };
    const keys = Object.keys(VALUES);
    const [json, dotenv, shell, run] = await Promise.all([
      client(['pull'], env),
      client(['pull', '--format', 'dotenv'], env),
      client(['pull', '--format', 'shell'], env),
      client(['run', '--', process.execPath, '-e', printEnv(keys)], env),
    ]);
    for (const result of [json, dotenv, shell, run]) expect([result.code, result.stderr]).toEqual([0, '']);

    expect(JSON.parse(json.stdout)).toEqual(VALUES);
    expect(parse(dotenv.stdout)).toEqual(VALUES);
    expect(JSON.parse(run.stdout)).toEqual(VALUES);
    // The shell form, as a POSIX shell reads it back.
    const file = path.join(tempDir(), 'secrets.sh');
    fs.writeFileSync(file, shell.stdout);
    const sourced = await runProcess(
      'sh',
      ['-c', '. "$1" && exec "$2" -e "$3"', 'sh', file, process.execPath, printEnv(keys)],
      { env: { PATH: process.env.PATH! } },
    );
    expect(sourced.stderr).toBe('');
    expect(JSON.parse(sourced.stdout)).toEqual(VALUES);

    const sent = proxy.sent();
    const received = proxy.received();
    // The capture saw the real exchange: four sealed pulls, each with the proof and nothing else.
    const { id, authKey } = tokenMaterial(token);
    const proof = tokenProof(id, authKey);
    expect(sent.toString('latin1').match(/GET \/api\/v1\/secrets\?format=sealed HTTP\/1\.1/g)).toHaveLength(4);
    expect(sent.toString('latin1').split(`authorization: Bearer ${proof}\r\n`)).toHaveLength(5);
    expect(sent.toString('latin1')).not.toMatch(/x-master-key/i);
    expect(received.toString('latin1').match(/"format":"secretsfly-sealed\/1"/g)).toHaveLength(4);
    // Not compressed: the search for plaintext in what the server sent is a real one.
    expect(received.toString('latin1')).not.toMatch(/content-encoding/i);

    const values = [...Object.values(VALUES), ...CANARIES];
    // The search finds what is there: the auth key the proof carries, the values the CLI printed.
    expect(leaks(sent, { 'the auth key': spellings(Buffer.from(authKey)) })).toContain(
      'the auth key as base64url (shift 0)',
    );
    expect(leaks(json.stdout, valueNeedles(Object.values(VALUES)))).toEqual(
      expect.arrayContaining(Object.keys(VALUES).map((_, i) => `value #${i} as JSON string`)),
    );
    expect(leaks(sent, secretNeedles(token, values))).toEqual([]);
    expect(leaks(received, valueNeedles(values))).toEqual([]);
    // The same in the server's own debug output (which did log the four requests); nor the proof.
    const log = serve.output();
    expect(log.match(/request .*path="\/api\/v1\/secrets".*status=200/g)).toHaveLength(4);
    expect(leaks(log, { ...secretNeedles(token, values), 'the proof': [{ how: 'raw', text: proof }] })).toEqual([]);
    expect(leaks(log, { 'the auth key': spellings(Buffer.from(authKey)) })).toEqual([]);
  });

  it("should share a secret with the keyed token's proof alone, never the part that unwraps", async () => {
    const from = proxy.sent().length;
    const shared = await client(['share', 'create', 'a one-time secret'], {
      SECRETSFLY_URL: proxy.url,
      SECRETSFLY_TOKEN: writer,
    });
    expect(shared.code, shared.stderr).toBe(0);
    const sent = proxy.sent().subarray(from);
    const { id, secretText, wrappingKey } = tokenMaterial(writer);
    expect(sent.toString('latin1')).toContain(`authorization: Bearer sfzk_${id}_`);
    expect(
      leaks(sent, { 'the token secret': textSpellings(secretText), 'the wrapping key': spellings(wrappingKey) }),
    ).toEqual([]);
  });

  it('should refuse a pull memory folder that others can open, with one line and no values', async () => {
    const open = tempDir();
    fs.chmodSync(open, 0o777);
    const refused = await client(['pull'], {
      SECRETSFLY_URL: proxy.url,
      SECRETSFLY_TOKEN: token,
      SECRETSFLY_STATE_DIR: open,
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `secretsfly: ${open} must be a folder of yours that nobody else can open (chmod 700), or set SECRETSFLY_STATE_DIR elsewhere\n`,
    );
    expect(fs.readdirSync(open)).toEqual([]);
  });
});

/**
 * A server that forwards each request to the real one and answers with what `tamper` makes of the
 * real answer: a malicious server (or anyone on the path) that holds real sealed answers. Each case
 * has its own path prefix in SECRETSFLY_URL, so all of them can run at once.
 */
type Tamper = (real: string) => string | { cut: string };

async function maliciousServer(real: string, cases: Record<string, Tamper>) {
  const server = http.createServer(async (req, res) => {
    const [, name, ...rest] = req.url!.split('/');
    const upstream = await fetch(`${real}/${rest.join('/')}`, {
      headers: { authorization: req.headers.authorization ?? '' },
    });
    const body = await upstream.text();
    const tamper = cases[decodeURIComponent(name!)];
    const altered = upstream.ok && tamper ? tamper(body) : body;
    if (typeof altered === 'string') {
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(altered);
    } else {
      // Announces the whole length, sends a part, and hangs up.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.write(altered.cut, () => res.socket!.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (name: string) => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/${encodeURIComponent(name)}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const REFUSED = "secretsfly: the server's answer failed verification: ";

describe('a sealed answer altered on its way', () => {
  let server: TestServer;
  let malicious: Awaited<ReturnType<typeof maliciousServer>>;
  let masterKey: string;
  const tokens: Record<'prod' | 'prod2' | 'staging' | 'replayed', { token: string; id: string }> = Object.create(null);
  // Answers taken from the real server before the tampering, to splice into others.
  const answers: Record<string, any> = Object.create(null);
  let older = ''; // tokens.replayed's answer while API_KEY was at version 1
  let replaying = false;
  let downgrading = false;

  const sealed = (token: string) => sealedAs(server, token);
  const set = (project: string, environment: string, key: string, value: string) =>
    server.ctx.secrets.set(
      { project, environment, key, value },
      { masterKey: new TextEncoder().encode(masterKey) },
      actor,
    );
  const edit = (mutate: (answer: any) => void) => (real: string) => {
    const answer = JSON.parse(real);
    mutate(answer);
    return JSON.stringify(answer);
  };

  // `run` is tried with the cases the issue names (the same code path as `pull`, which every case tries).
  const cases: Record<string, { tamper: Tamper; reason: RegExp; run?: true }> = {
    'a truncated body': {
      tamper: (real) => real.slice(0, Math.floor(real.length / 2)),
      run: true,
      reason: /not complete JSON/,
    },
    'a ciphertext moved to another key name': {
      tamper: edit(
        (a) =>
          ([a.secrets.API_KEY.ciphertext, a.secrets.OTHER.ciphertext] = [
            a.secrets.OTHER.ciphertext,
            a.secrets.API_KEY.ciphertext,
          ]),
      ),
      run: true,
      reason: /does not decrypt with the binding it was sent with/,
    },
    'an entry moved whole to another key name': {
      tamper: edit((a) => (a.secrets.OTHER = a.secrets.API_KEY)),
      // Its KEY is its name in the answer, and the AAD binds it.
      reason: /OTHER does not decrypt with the binding it was sent with/,
    },
    'an entry renamed with its aad.key': {
      tamper: edit(
        (a) => (a.secrets.OTHER = { ...a.secrets.API_KEY, aad: { ...a.secrets.API_KEY.aad, key: 'OTHER' } }),
      ),
      reason: /OTHER does not decrypt/,
    },
    "a ciphertext from another environment (the staging token's real answer)": {
      tamper: edit((a) => (a.secrets.API_KEY.ciphertext = answers.staging.secrets.API_KEY.ciphertext)),
      run: true,
      reason: /API_KEY does not decrypt/,
    },
    "a whole entry from the staging token's real answer": {
      tamper: edit((a) => (a.secrets.API_KEY = answers.staging.secrets.API_KEY)),
      reason: /API_KEY does not decrypt with the binding it was sent with/,
    },
    'aad.environment changed': {
      tamper: edit((a) => (a.secrets.API_KEY.aad.environment = answers.staging.environment_id)),
      run: true,
      reason: /API_KEY is bound to another root, environment or key/,
    },
    'aad.environment and environment_id both changed to staging': {
      tamper: edit((a) => {
        a.environment_id = answers.staging.environment_id;
        for (const entry of Object.values<any>(a.secrets)) entry.aad.environment = a.environment_id;
      }),
      reason: /the wrapped key does not open/,
    },
    "the staging token's whole answer, relabelled for this token": {
      tamper: () => JSON.stringify({ ...answers.staging, token: tokens.prod.id }),
      reason: /the wrapped key does not open/,
    },
    "another token's answer": { tamper: () => JSON.stringify(answers.prod2), reason: /made for another token/ },
    'the wrapped_key of another token of the same scope': {
      tamper: edit((a) => (a.wrapped_key = answers.prod2.wrapped_key)),
      run: true,
      reason: /the wrapped key does not open/,
    },
    'the wrapped_key of the staging token': {
      tamper: edit((a) => (a.wrapped_key = answers.staging.wrapped_key)),
      reason: /the wrapped key does not open/,
    },
    'a flipped bit in the wrapped key': {
      tamper: edit((a) => {
        const bytes = Buffer.from(a.wrapped_key, 'base64');
        bytes[bytes.length - 1]! ^= 1;
        a.wrapped_key = bytes.toString('base64');
      }),
      reason: /the wrapped key does not open/,
    },
    'the chain without its root': {
      tamper: edit((a) => a.chain.shift()),
      run: true,
      reason: /the wrapped key does not open/,
    },
    'the chain reordered': { tamper: edit((a) => a.chain.reverse()), reason: /the wrapped key does not open/ },
    'a foreign project added to the chain': {
      tamper: edit((a) => a.chain.push({ id: answers.other.chain[0].id, name: 'other' })),
      run: true,
      reason: /the wrapped key does not open/,
    },
    'an inherited value claimed by the child project': {
      tamper: edit((a) => (a.secrets.DATABASE_URL.aad.project = a.chain[1].id)),
      reason: /DATABASE_URL does not decrypt/,
    },
    'a version raised': {
      tamper: edit((a) => (a.secrets.API_KEY.aad.version += 1)),
      reason: /API_KEY does not decrypt/,
    },
    'a value from a project outside the chain': {
      tamper: edit((a) => (a.secrets.API_KEY.aad.project = answers.other.chain[0].id)),
      reason: /API_KEY comes from a project outside this token's chain/,
    },
  };

  beforeAll(async () => {
    server = await startTestServer();
    masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    await server.ctx.projects.create({ name: 'app-api', parent: 'app' }, actor);
    const otherKey = (await server.ctx.projects.create({ name: 'other' }, actor)).masterKey!;
    await set('app', 'prod', 'DATABASE_URL', 'postgres://prod-db');
    await set('app-api', 'prod', 'API_KEY', 'prod-api-key-v1');
    await set('app-api', 'prod', 'OTHER', 'prod-other');
    await set('app-api', 'staging', 'API_KEY', 'staging-api-key');
    await set('app', 'prod', 'FLAG', 'root-default');
    await set('app-api', 'prod', 'FLAG', 'child-override');
    const keyed = (project: string, environment: string, key = masterKey) =>
      server.ctx.tokens
        .create({ project, environment, access: 'read', keyed: { masterKey: new TextEncoder().encode(key) } }, actor)
        .then(({ token, view }) => ({ token, id: view.id }));
    tokens.prod = await keyed('app-api', 'prod');
    tokens.prod2 = await keyed('app-api', 'prod');
    tokens.staging = await keyed('app-api', 'staging');
    tokens.replayed = await keyed('app-api', 'prod');
    const other = await keyed('other', 'prod', otherKey);
    answers.prod2 = JSON.parse(await sealed(tokens.prod2.token));
    answers.staging = JSON.parse(await sealed(tokens.staging.token));
    answers.other = JSON.parse(await sealed(other.token));
    answers.root = JSON.parse(await sealed((await keyed('app', 'prod')).token));
    older = await sealed(tokens.replayed.token);
    malicious = await maliciousServer(server.url, {
      ...Object.fromEntries(Object.entries(cases).map(([name, { tamper }]) => [name, tamper])),
      'cut in transit': (real) => ({ cut: real.slice(0, Math.floor(real.length / 2)) }),
      replay: (real) => (replaying ? older : real),
      downgrade: (real) =>
        downgrading
          ? edit((a) => {
              a.secrets.FLAG = answers.root.secrets.FLAG;
              delete a.secrets.OTHER;
            })(real)
          : real,
    });
  });
  afterAll(async () => {
    await malicious?.close();
    await server?.close();
  });

  /** `pull` and `run` against `url`; both must be refused, print nothing else and start no child. */
  async function expectRefused(url: string, token: string, reason: RegExp, { prefix = REFUSED, withRun = true } = {}) {
    const stateDir = tempDir();
    const marker = path.join(tempDir(), 'started');
    const env = { SECRETSFLY_URL: url, SECRETSFLY_TOKEN: token, SECRETSFLY_STATE_DIR: stateDir };
    const results = await Promise.all([
      client(['pull'], env),
      ...(withRun
        ? [
            client(
              ['run', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`],
              env,
            ),
          ]
        : []),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.split('\n');
      expect(lines, result.stderr).toHaveLength(2); // one line, then the final newline
      expect(lines[0]!.startsWith(prefix), result.stderr).toBe(true);
      expect(lines[0]).toMatch(reason);
    }
    expect(fs.existsSync(marker)).toBe(false);
    // Nothing from a refused answer is remembered either.
    expect(fs.readdirSync(stateDir)).toEqual([]);
  }

  it('should pass a faithful answer through unchanged (the harness itself is sound)', async () => {
    const result = await client(['pull'], {
      SECRETSFLY_URL: malicious.url('faithful'),
      SECRETSFLY_TOKEN: tokens.prod.token,
      SECRETSFLY_STATE_DIR: tempDir(),
    });
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(JSON.parse(result.stdout)).toEqual({
      DATABASE_URL: 'postgres://prod-db',
      API_KEY: 'prod-api-key-v1',
      OTHER: 'prod-other',
      FLAG: 'child-override',
    });
  });

  it('should refuse every altered answer, with one line, exit 1, no output and no child', async () => {
    const failures: string[] = [];
    const refused: string[] = [];
    // Three cases at a time (a case is one or two CLI processes): the box has two cores.
    const queue = Object.keys(cases);
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const { reason, run } = cases[name]!;
        await expectRefused(malicious.url(name), tokens.prod.token, reason, { withRun: run === true }).then(
          () => refused.push(name),
          (error: Error) => failures.push(`${name}: ${error.message.split('\n')[0]}`),
        );
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(refused).toHaveLength(Object.keys(cases).length - failures.length);
    expect(failures).toEqual([]);
  });

  it('should report an answer cut in transit as one clear line, not as an unexpected error', async () => {
    // The connection closes before the announced length: the body never arrives whole. Nothing is
    // used (no output, no child), but the CLI calls it "unexpected error: terminated", the wording
    // of a bug: cli/server-client.ts reads the body (`await response.text()`) outside the try that
    // turns network failures into a clear line. Not a verification failure either: any clear line.
    await expectRefused(malicious.url('cut in transit'), tokens.prod.token, /^secretsfly: (?!unexpected)/, {
      prefix: 'secretsfly: ',
    });
  });

  it('should refuse an older answer replayed after a newer one was pulled, but only on that client', async () => {
    const url = malicious.url('replay');
    const pull = (stateDir: string) =>
      client(['pull'], {
        SECRETSFLY_URL: url,
        SECRETSFLY_TOKEN: tokens.replayed.token,
        SECRETSFLY_STATE_DIR: stateDir,
      });
    // The newer answer, through the same URL (the memory is per server URL and token), passed through.
    await set('app-api', 'prod', 'API_KEY', 'prod-api-key-v2');
    const stateDir = tempDir();
    const newer = await pull(stateDir);
    expect([newer.code, newer.stderr]).toEqual([0, '']);
    expect(JSON.parse(newer.stdout).API_KEY).toBe('prod-api-key-v2');
    const [memoryFile] = fs.readdirSync(path.join(stateDir, 'pulls'));
    const memory = fs.readFileSync(path.join(stateDir, 'pulls', memoryFile!), 'utf8');

    // Then the answer recorded while API_KEY was at version 1.
    replaying = true;
    const marker = path.join(tempDir(), 'started');
    const env = { SECRETSFLY_URL: url, SECRETSFLY_TOKEN: tokens.replayed.token, SECRETSFLY_STATE_DIR: stateDir };
    const [replayed, run] = await Promise.all([
      pull(stateDir),
      client(['run', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`], env),
    ]);
    for (const result of [replayed, run]) {
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n')).toHaveLength(2);
      expect(result.stderr).toMatch(
        new RegExp(`^${REFUSED}API_KEY went back from version 2 to 1 since the last pull \\(a replayed answer\\?\\)`),
      );
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.readFileSync(path.join(stateDir, 'pulls', memoryFile!), 'utf8')).toBe(memory);

    // The rollback check is per client: its memory is this machine's state directory. A deployment
    // that never pulled the newer answer (fresh state) cannot tell the old one from the current.
    const elsewhere = await pull(tempDir());
    expect([elsewhere.code, elsewhere.stderr]).toEqual([0, '']);
    expect(JSON.parse(elsewhere.stdout).API_KEY).toBe('prod-api-key-v1');
  });

  it('should, as things stand, accept a shadowed ancestor value and a missing key (not covered by the checks)', async () => {
    // Each value is authenticated alone; which project's value wins, and which keys exist, are not.
    // The server holds the root's own FLAG (a valid ciphertext under the same environment key, from
    // a project in the chain) and can send it in place of the child's override, and leave OTHER out,
    // even to a client that pulled the override before: the memory holds versions per project and
    // key, and neither change is a version going back. This test records the limitation; it is
    // expected to change if the answer ever carries an authenticated list of the scope's winners.
    const env = {
      SECRETSFLY_URL: malicious.url('downgrade'),
      SECRETSFLY_TOKEN: tokens.prod.token,
      SECRETSFLY_STATE_DIR: tempDir(),
    };
    const before = await client(['pull'], env);
    expect([before.code, before.stderr]).toEqual([0, '']);
    expect(JSON.parse(before.stdout)).toMatchObject({ FLAG: 'child-override', OTHER: 'prod-other' });
    downgrading = true;
    const after = await client(['pull'], env);
    expect([after.code, after.stderr]).toEqual([0, '']);
    const values = JSON.parse(after.stdout);
    expect(values.FLAG).toBe('root-default');
    expect(values).not.toHaveProperty('OTHER');
  });
});

describe('a revoked keyed token, and what the client keeps', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('should print one line and exit 1 on a 401, and keep only versions, in a 0600 file', async () => {
    const masterKey = (await server.ctx.projects.create({ name: 'app' }, actor)).masterKey!;
    const access = { masterKey: new TextEncoder().encode(masterKey) };
    const values = [...Object.values(VALUES), ...CANARIES];
    for (const [key, value] of Object.entries(VALUES)) {
      // `$${` writes a literal `${` (a reference otherwise): what is pulled is the value itself.
      await server.ctx.secrets.set(
        { project: 'app', environment: 'prod', key, value: value.replaceAll('${', () => '$${') },
        access,
        actor,
      );
    }
    const { token, view } = await server.ctx.tokens.create(
      {
        project: 'app',
        environment: 'prod',
        access: 'read',
        keyed: { masterKey: new TextEncoder().encode(masterKey) },
      },
      actor,
    );
    const stateDir = tempDir();
    const env = { SECRETSFLY_URL: server.url, SECRETSFLY_TOKEN: token, SECRETSFLY_STATE_DIR: stateDir };
    const first = await client(['pull'], env);
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(JSON.parse(first.stdout)).toEqual(VALUES);

    const pulls = path.join(stateDir, 'pulls');
    const files = fs.readdirSync(pulls);
    expect(files).toHaveLength(1); // no temporary file left behind
    const file = path.join(pulls, files[0]!);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(pulls).mode & 0o777).toBe(0o700);
    const memory = fs.readFileSync(file, 'utf8');
    const projectId = JSON.parse(await sealedAs(server, token)).chain[0].id as string;
    expect(JSON.parse(memory)).toEqual({
      versions: Object.fromEntries(Object.keys(VALUES).map((key) => [`${projectId}/${key}`, 1])),
    });
    const { id, authKey } = tokenMaterial(token);
    expect(
      leaks(memory, {
        ...secretNeedles(token, values),
        'the auth key': spellings(Buffer.from(authKey)),
        'the proof': [{ how: 'raw', text: tokenProof(id, authKey) }],
      }),
    ).toEqual([]);

    await server.ctx.tokens.revoke(view.id, actor);
    const marker = path.join(tempDir(), 'started');
    const [pull, run] = await Promise.all([
      client(['pull'], env),
      client(['run', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`], env),
    ]);
    for (const result of [pull, run]) {
      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr:
          "secretsfly: the server refused: invalid or expired service token (invalid_token, HTTP 401): the token is revoked, expired or mistyped: get a new one (secretsfly token create) and run 'secretsfly login' again\n",
      });
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe(memory);
  });
});

async function sealedAs(server: { url: string }, token: string): Promise<string> {
  const { id, authKey } = tokenMaterial(token);
  const answer = await call(server, '/api/v1/secrets?format=sealed', { token: tokenProof(id, authKey) });
  expect(answer.status).toBe(200);
  return answer.text;
}
