import { type ChildProcess, spawn } from 'node:child_process';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import type { ContextOverrides } from '../../src/main.js';
import { BIN, engineEnv, FAST_KDF, tempDir } from './test-context.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly logLines: string[];
  readonly announced: string[];
}

/** A real server on an ephemeral loopback port over a fresh database (this pass's engine), logging at debug level into memory. */
export async function startTestServer(
  env: Record<string, string> = {},
  overrides: ContextOverrides = {},
): Promise<TestServer> {
  const dataDir = tempDir();
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    AVAILABLE_ENVIRONMENTS: 'prod,staging',
    LOG_LEVEL: 'debug',
    ...(await engineEnv(dataDir)),
    ...env,
  });
  const logLines: string[] = [];
  const announced: string[] = [];
  const server = await startServer(config, {
    logger: createLogger('debug', (line) => logLines.push(line)),
    announce: (line) => announced.push(line),
    overrides: { kdfParams: FAST_KDF, ...overrides },
    // The warm-up changes only how fast the first pull is (bench measures it), and costs ~0.4 s a
    // start; `serve` processes (spawnServe) and test/integration/warm-up.test.ts run it.
    warmUp: false,
  });
  return Object.assign(server, { dataDir, logLines, announced });
}

export interface ApiCall {
  method?: string;
  token?: string;
  masterKey?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call(server: { url: string }, path: string, options: ApiCall = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.masterKey !== undefined) headers['x-master-key'] = options.masterKey;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${server.url}${path}`, {
    method: options.method ?? 'GET',
    headers,
    ...(body !== undefined && { body }),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** `secretsfly serve` as a child process on an ephemeral port; resolves once it prints its URL. */
export async function spawnServe(
  dataDir: string,
  /** A variable set to undefined is left out (DATABASE_URL: undefined serves SQLite in either pass). */
  env: Record<string, string | undefined> = {},
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const engine = await engineEnv(dataDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: '0', ...engine, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening url="([^"]+)"/.exec(output);
      if (match) resolve({ child, url: match[1]!, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}
