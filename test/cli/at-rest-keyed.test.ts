import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { sha256 } from '../../src/crypto/hash.js';
import { decodeKey43, environmentKey, KEYED_TOKEN, parseKeyedToken, tokenProof } from '../../src/crypto/scoped-keys.js';
import { masterKeyBytes } from '../../src/keys/master-key.js';
import { createContext } from '../../src/main.js';
import { openSealedPull } from '../../src/secrets/sealed-pull.js';
import { onPostgres } from '../helpers/postgres.js';
import {
  actor,
  DATABASE_DUMP,
  engineEnv,
  FAST_KDF,
  readAllStored,
  runCli,
  succeeded,
  tempDir,
} from '../helpers/test-context.js';

/** Where the rows are, among the haystacks: the SQLite file, or the PostgreSQL database's rows. */
const STORE = onPostgres ? DATABASE_DUMP : 'secretsfly.db';
import { call, spawnServe } from '../helpers/test-server.js';
import { dekOf, encodings, kekOf, readStored } from '../helpers/stored-values.js';

/**
 * test/cli/at-rest.test.ts for keyed tokens and the sealed path: after a session in which keyed
 * tokens were created, used by a real `serve` process (plain pulls, sealed pulls, writes) and
 * revoked, no file under DATA_DIR and no line the server printed at LOG_LEVEL=debug holds, in any
 * encoding, the master key, a token's secret part, its wrapping or authentication key (only the
 * SHA-256 of the latter is stored), an environment key, or a plaintext value.
 */

interface Needle {
  readonly what: string;
  readonly bytes: Buffer[];
}

/** Every way a secret could have been written down: raw, hex (both cases), base64 (padded or not), base64url. */
const encoded = (what: string, secret: Buffer | Uint8Array): Needle => ({
  what,
  bytes: encodings(Buffer.from(secret)),
});

/** A text secret: its UTF-8 bytes in every encoding above, as JSON would escape it, and as UTF-16. */
const text = (what: string, value: string): Needle => ({
  what,
  bytes: [
    ...encodings(Buffer.from(value)),
    Buffer.from(JSON.stringify(value).slice(1, -1)),
    Buffer.from(value, 'utf16le'),
  ],
});

function findings(haystacks: { name: string; content: Buffer }[], needles: readonly Needle[]): string[] {
  const found: string[] = [];
  for (const { name, content } of haystacks) {
    for (const needle of needles) {
      if (needle.bytes.some((bytes) => content.includes(bytes))) found.push(`${needle.what} in ${name}`);
    }
  }
  return found;
}

describe('nothing of a keyed token, its keys or the values it moved, at rest or in the logs', () => {
  const dataDir = tempDir();
  const work = tempDir();
  const env = { AVAILABLE_ENVIRONMENTS: 'prod,staging' };
  const cli = (args: string[], input?: string) => runCli(args, { dataDir, env, ...(input !== undefined && { input }) });
  let masterKey = '';
  let serverOutput = '';
  const plaintexts = {
    root: 'pl41ntext-root-db-password-kz',
    api: 'pl41ntext-api-key-prod-kz',
    staging: 'pl41ntext-staging-value-kz',
    multi: 'pl41ntext-multi\nline "quoted" $x-kz',
    writtenByToken: 'pl41ntext-written-by-keyed-token-kz',
    overwrittenByToken: 'pl41ntext-overwritten-by-keyed-token-kz',
    deletedByToken: 'pl41ntext-deleted-by-keyed-token-kz',
    unicode: 'pl41ntext-überschrift-🔐-kz',
  };
  const keyedTokens: string[] = [];

  async function stop(child: ChildProcess) {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  beforeAll(async () => {
    masterKey = succeeded(await cli(['project', 'create', 'acme'])).stdout.trim();
    const keyFile = path.join(work, 'acme.key');
    fs.writeFileSync(keyFile, masterKey);
    succeeded(await cli(['project', 'create', 'acme-api', '--parent', 'acme']));
    const set = async (project: string, environment: string, key: string, value: string) =>
      succeeded(await cli(['secret', 'set', project, environment, key, '--master-key-file', keyFile], value));
    await set('acme', 'prod', 'DB_PASSWORD', plaintexts.root);
    await set('acme-api', 'prod', 'API_KEY', plaintexts.api);
    await set('acme-api', 'prod', 'MULTI', plaintexts.multi);
    await set('acme-api', 'staging', 'STAGING_VALUE', plaintexts.staging);
    await set('acme-api', 'staging', 'UNICODE', plaintexts.unicode);
    const classic = succeeded(await cli(['token', 'create', 'acme-api', 'prod', '--classic'])).stdout.trim();

    const server = await spawnServe(dataDir, { ...env, LOG_LEVEL: 'debug' });
    try {
      // Keyed tokens made while the server runs, by another process on the same DATA_DIR, as
      // `secretsfly token create` does.
      const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, ...(await engineEnv(dataDir)), ...env }), {
        kdfParams: FAST_KDF,
      });
      try {
        for (const [project, environment, access] of [
          ['acme-api', 'prod', 'read_write'],
          ['acme-api', 'staging', 'read'],
          ['acme', 'prod', 'read'],
        ] as const) {
          const created = await ctx.tokens.create(
            { project, environment, access, keyed: { masterKey: masterKeyBytes(masterKey) } },
            actor,
          );
          keyedTokens.push(created.token);
        }
      } finally {
        await ctx.close();
      }
      const [writer, staging, root] = keyedTokens as [string, string, string];

      // Plain pulls in every format, one key, and the sealed form with the token and with its proof.
      for (const token of keyedTokens) {
        for (const format of ['json', 'dotenv', 'shell']) {
          const pulled = await call(server, `/api/v1/secrets?format=${format}`, { token });
          expect(pulled.status, pulled.text).toBe(200);
        }
        expect((await call(server, '/api/v1/secrets?include=metadata', { token })).status).toBe(200);
        const { id, wrappingKey, authKey } = parseKeyedToken(token)!;
        for (const presented of [token, tokenProof(id, authKey)]) {
          const sealed = await call(server, '/api/v1/secrets?format=sealed', { token: presented });
          expect(sealed.status, sealed.text).toBe(200);
          expect(openSealedPull(sealed.text, { id, wrappingKey }, undefined).secrets.size).toBeGreaterThan(0);
        }
      }
      expect((await call(server, '/api/v1/secrets/API_KEY', { token: writer })).json.value).toBe(plaintexts.api);
      expect((await call(server, '/api/v1/secrets', { token: staging })).json.secrets.UNICODE).toBe(plaintexts.unicode);
      expect((await call(server, '/api/v1/secrets', { token: root })).json.secrets.DB_PASSWORD).toBe(plaintexts.root);

      // Writes with the keyed token alone: a new key, a new version, a value written then deleted.
      const put = (key: string, value: string) =>
        call(server, `/api/v1/secrets/${key}`, { method: 'PUT', token: writer, body: { value } });
      expect((await put('WRITTEN', plaintexts.writtenByToken)).status).toBe(200);
      expect((await put('API_KEY', plaintexts.overwrittenByToken)).status).toBe(200);
      expect((await put('TEMPORARY', plaintexts.deletedByToken)).status).toBe(200);
      expect((await call(server, '/api/v1/secrets/TEMPORARY', { method: 'DELETE', token: writer })).status).toBe(204);
      const after = await call(server, '/api/v1/secrets', { token: writer });
      expect(after.json.secrets).toMatchObject({
        WRITTEN: plaintexts.writtenByToken,
        API_KEY: plaintexts.overwrittenByToken,
      });
      // The classic token with the master key, too: the header crosses the same logs.
      expect((await call(server, '/api/v1/secrets', { token: classic, masterKey })).status).toBe(200);
      // A request refused for a credential in the URL: the query string never reaches a log line.
      expect((await call(server, `/api/v1/secrets?format=sealed&t=${encodeURIComponent(writer)}`)).status).toBe(400);

      // Revoked from the CLI (another process): each stops at once, sealed form included.
      for (const token of keyedTokens) {
        const id = KEYED_TOKEN.exec(token)![1]!;
        succeeded(await cli(['token', 'revoke', id]));
        expect((await call(server, '/api/v1/secrets', { token })).status).toBe(401);
        expect((await call(server, '/api/v1/secrets?format=sealed', { token })).status).toBe(401);
      }
    } finally {
      await stop(server.child);
      serverOutput = server.output();
    }
  }, 120_000);
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Everything that was written down: every file under DATA_DIR, and the server's stdout and stderr. */
  const haystacks = async () => [
    ...(await readAllStored(dataDir)).map(({ file, content }) => ({ name: path.basename(file), content })),
    { name: 'server output', content: Buffer.from(serverOutput) },
  ];

  it('should have scanned real files and a debug log (positive controls)', async () => {
    const files = (await readAllStored(dataDir)).map(({ file }) => path.basename(file));
    expect(files).toContain(STORE);
    expect(serverOutput).toMatch(/ debug request .*path="\/api\/v1\/secrets"/);
    expect(serverOutput).toContain('status=401');
    expect(keyedTokens).toHaveLength(3);
    const stored = await readStored(dataDir);
    for (const token of keyedTokens) {
      const { id, authKey } = parseKeyedToken(token)!;
      const row = stored.tokens.find((t) => t.id === id)!;
      // The one thing stored of a keyed token: the SHA-256 of its authentication key. The scan finds it.
      expect(Buffer.from(row.token_hash)).toEqual(Buffer.from(sha256(authKey)));
      expect(findings(await haystacks(), [encoded('its hash', sha256(authKey))])).toContain(`its hash in ${STORE}`);
      expect(row.revoked_at).not.toBeNull();
      expect(row.wrapped_key).toBeNull();
    }
  });

  it('should hold no master key, data key or key-encryption key', async () => {
    const root = (await readStored(dataDir)).roots[0]!;
    const needles = [
      text('the master key', masterKey),
      text('the master key without its prefix', masterKey.replace(/^sfmk_/, '')),
      encoded('the KEK', kekOf(masterKey, root)),
      encoded('the data key', dekOf(masterKey, root)),
    ];
    expect(findings(await haystacks(), needles)).toEqual([]);
  });

  it("should hold no keyed token, no token's secret part, wrapping key or authentication key", async () => {
    const needles: Needle[] = [];
    keyedTokens.forEach((token, i) => {
      const [, id, secretPart] = KEYED_TOKEN.exec(token)!;
      const { wrappingKey, authKey } = parseKeyedToken(token)!;
      needles.push(
        text(`keyed token ${i}`, token),
        text(`the secret part of keyed token ${i}`, secretPart!),
        encoded(`the secret of keyed token ${i}`, decodeKey43(secretPart!)!),
        encoded(`the wrapping key of keyed token ${i}`, wrappingKey),
        encoded(`the authentication key of keyed token ${i}`, authKey),
        text(`the proof of keyed token ${i}`, tokenProof(id!, authKey)),
      );
    });
    expect(findings(await haystacks(), needles)).toEqual([]);
  });

  it('should hold no environment key, of any environment', async () => {
    const stored = await readStored(dataDir);
    const root = stored.roots[0]!;
    expect(root.value_keys).toBe('environment');
    const dek = dekOf(masterKey, root);
    const needles = stored.environments.map((e) =>
      encoded(`the environment key of ${e.name}`, environmentKey(dek, root.project_id, e.id)),
    );
    expect(needles).toHaveLength(2);
    expect(findings(await haystacks(), needles)).toEqual([]);
  });

  it('should hold no plaintext value, written by the CLI or by a keyed token', async () => {
    const needles = Object.entries(plaintexts).map(([name, value]) => text(`the plaintext "${name}"`, value));
    expect(findings(await haystacks(), needles)).toEqual([]);
  });
});

describe('a keyed token a client put in the URL path by mistake', () => {
  it('should not reach the debug log (the query string is refused and never logged; the path is logged)', async () => {
    const dataDir = tempDir();
    const env = { AVAILABLE_ENVIRONMENTS: 'prod,staging' };
    try {
      const masterKey = succeeded(await runCli(['project', 'create', 'acme'], { dataDir, env })).stdout.trim();
      const ctx = await createContext(loadConfig({ DATA_DIR: dataDir, ...(await engineEnv(dataDir)), ...env }), {
        kdfParams: FAST_KDF,
      });
      const { token } = await ctx.tokens.create(
        { project: 'acme', environment: 'prod', access: 'read', keyed: { masterKey: masterKeyBytes(masterKey) } },
        actor,
      );
      await ctx.close();
      const server = await spawnServe(dataDir, { ...env, LOG_LEVEL: 'debug' });
      let output = '';
      try {
        // A client that builds its URL from the wrong variable: answered 404 (or sent to sign in), and logged.
        for (const wrong of [`/api/v1/${token}`, `/api/v1/tokens/${token}`, `/${token}`]) await call(server, wrong);
      } finally {
        server.child.kill('SIGTERM');
        await new Promise((resolve) => server.child.once('exit', resolve));
        output = server.output();
      }
      expect(output).toMatch(/ debug request /);
      const [, , secretPart] = KEYED_TOKEN.exec(token)!;
      expect(
        findings([{ name: 'server output', content: Buffer.from(output) }], [text('the token', secretPart!)]),
      ).toEqual([]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
