import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ROOT } from '../helpers/test-context.js';

interface FlyToml {
  app: string;
  kill_signal: string;
  kill_timeout: number;
  env: Record<string, string>;
  mounts: { source: string; destination: string };
  http_service: {
    internal_port: number;
    force_https: boolean;
    min_machines_running: number;
    checks: { path: string; method: string }[];
  };
}

describe('fly.toml', () => {
  const fly = parse(fs.readFileSync(path.join(ROOT, 'fly.toml'), 'utf8')) as unknown as FlyToml;
  const config = loadConfig(fly.env);

  it('should serve the port the server listens on, over HTTPS only, on all interfaces behind the proxy', () => {
    expect(fly.http_service.internal_port).toBe(config.port);
    expect(fly.http_service.force_https).toBe(true);
    expect(config.host).toBe('0.0.0.0');
    expect(config.trustProxy).toBe(true);
  });

  it('should mount the volume at DATA_DIR and keep one machine (SQLite has one writer)', () => {
    expect(fly.mounts.destination).toBe(config.dataDir);
    expect(config.dataDir).toBe('/data');
    expect(fly.http_service.min_machines_running).toBe(1);
  });

  it('should check health on the status endpoint and stop with SIGTERM, leaving time for a graceful shutdown', () => {
    expect(fly.http_service.checks.map((c) => [c.method, c.path])).toEqual([['GET', '/api/v1/status']]);
    expect(fly.kill_signal).toBe('SIGTERM');
    // The server gives in-flight requests 10 s before closing connections.
    expect(fly.kill_timeout).toBeGreaterThan(10);
  });

  it('should agree with the Dockerfile on port, data directory, health check and stop signal', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`PORT=${config.port}`);
    expect(dockerfile).toContain('DATA_DIR=/data');
    expect(dockerfile).toContain('/api/v1/status');
    expect(dockerfile).toContain('STOPSIGNAL SIGTERM');
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
