import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { ROOT } from '../helpers/test-context.js';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test: string | string[] };
  ports?: (string | { host_ip?: string; published?: string | number; target: number })[];
  volumes?: (string | { type: string; source: string; target: string })[];
}

type Named = 'postgres' | 'app1' | 'app2' | 'proxy';

interface Compose {
  services: Record<Named, ComposeService> & Record<string, ComposeService | undefined>;
  volumes?: Record<string, unknown>;
}

interface FlyToml {
  kill_signal: string;
  env: Record<string, string>;
  mounts?: unknown;
  http_service: {
    internal_port: number;
    force_https: boolean;
    auto_stop_machines: string | boolean;
    min_machines_running: number;
    checks: { path: string; method: string }[];
  };
}

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

const composeText = read('docker-compose.yml');
// `merge`: app1 and app2 share their settings through YAML merge keys (`<<:`), as compose reads them.
const compose = parseYaml(composeText, { merge: true }) as Compose;

/** What compose would pass for `${NAME}`, `${NAME:?message}` and `${NAME:-default}`, given `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_all, name: string, kind?: string, rest?: string) => {
    if (vars[name] !== undefined && vars[name] !== '') return vars[name];
    if (kind === '-') return rest ?? '';
    throw new Error(`compose would refuse to start: ${name} is unset (${rest ?? 'no message'})`);
  });
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
}

/** The `ENV` line of the Dockerfile: what every container starts with before compose adds its own. */
function dockerfileEnv(): Record<string, string> {
  const line = /^ENV (.+)$/m.exec(read('Dockerfile'))?.[1] ?? '';
  return Object.fromEntries(line.split(/\s+/).map((pair) => pair.split('=') as [string, string]));
}

const vars = { POSTGRES_PASSWORD: 'a'.repeat(48), SECRETSFLY_SESSION_SECRET: 'b'.repeat(64) };
const INSTANCES = ['app1', 'app2'] as const;

describe('docker-compose.yml', () => {
  const { services } = compose;

  it('should run postgres, two instances and a proxy', () => {
    expect(Object.keys(services).sort()).toEqual(['app1', 'app2', 'postgres', 'proxy']);
  });

  it('should keep PostgreSQL in a named volume and call it healthy only once it accepts connections', () => {
    const postgres = services.postgres;
    expect(postgres.image).toMatch(/^postgres:1[67](\.|-|$)/);
    const volumeNames = (postgres.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
    expect(volumeNames.some((name) => name !== undefined && name in (compose.volumes ?? {}))).toBe(true);
    const test = postgres.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toContain('pg_isready');
  });

  for (const name of INSTANCES) {
    describe(name, () => {
      const service = services[name];
      const raw = environmentOf(service);
      const env = Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, interpolate(value, vars)]));
      const config = loadConfig({ ...dockerfileEnv(), ...env });

      it("should be built from the repository's Dockerfile", () => {
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        expect(build).toBeDefined();
        const dockerfile = path.resolve(ROOT, build!.context ?? '.', build!.dockerfile ?? 'Dockerfile');
        expect(dockerfile).toBe(path.join(ROOT, 'Dockerfile'));
      });

      it('should keep all state in the postgres service, with its user, database and password', () => {
        const url = new URL(env.DATABASE_URL ?? '');
        const postgres = environmentOf(services.postgres);
        expect(url.protocol).toMatch(/^postgres(ql)?:$/);
        expect(url.hostname).toBe('postgres');
        expect(url.port || '5432').toBe('5432');
        expect(url.username).toBe(postgres.POSTGRES_USER);
        expect(url.pathname).toBe(`/${postgres.POSTGRES_DB}`);
        expect(url.password).toBe(interpolate(postgres.POSTGRES_PASSWORD ?? '', vars));
      });

      it('should start only once postgres is healthy', () => {
        const dependsOn = service.depends_on as Record<string, { condition?: string }>;
        expect(dependsOn.postgres?.condition).toBe('service_healthy');
      });

      it('should be reachable by the other instance at its INSTANCE_URL, under its own name', () => {
        const url = new URL(env.INSTANCE_URL ?? '');
        expect(url.hostname).toBe(name);
        expect(Number(url.port)).toBe(config.port);
        expect(config.host).toBe('0.0.0.0');
        expect(env.INSTANCE_NAME).toBe(name);
      });

      it('should trust the proxy and share one session secret with the other instance', () => {
        expect(raw.TRUST_PROXY).toBe('true');
        expect(config.trustProxy).toBe(true);
        expect(config.sessionSecret).toBe(vars.SECRETSFLY_SESSION_SECRET);
      });
    });
  }

  it('should give both instances the same settings but their own address and name', () => {
    const [one, two] = INSTANCES.map((name) => {
      const { INSTANCE_URL: _url, INSTANCE_NAME: _name, ...shared } = environmentOf(services[name]);
      return shared;
    });
    expect(one).toEqual(two);
  });

  it('should publish only the proxy, on 127.0.0.1:8080, in front of both instances in turn', () => {
    for (const name of ['postgres', ...INSTANCES] as const) expect(services[name].ports).toBeUndefined();
    const ports = services.proxy.ports ?? [];
    expect(ports).toHaveLength(1);
    expect(typeof ports[0]).toBe('string');
    const [hostIp, published, target] = (ports[0] as string).split(':');
    expect([hostIp, published]).toEqual(['127.0.0.1', '8080']);

    const mount = (services.proxy.volumes ?? []).find(
      (v): v is string => typeof v === 'string' && v.includes('nginx.conf'),
    );
    expect(mount?.split(':')[0]).toBe('./deploy/nginx.conf');
    const nginx = read('deploy/nginx.conf').replace(/#.*$/gm, '');
    expect(nginx).toMatch(new RegExp(`^\\s*listen\\s+${target}\\s*;`, 'm'));
    const [, upstreamName, upstream = ''] = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(nginx) ?? [];
    expect(nginx).toMatch(new RegExp(`proxy_pass\\s+http://${upstreamName}\\s*;`));
    const servers = [...upstream.matchAll(/^\s*server\s+([^\s;]+)[^;]*;/gm)].map((m) => m[1]);
    expect(servers.sort()).toEqual(['app1:8080', 'app2:8080']);
    // Round-robin: no ip_hash, hash or sticky directive (the instances forward to each other instead).
    expect(upstream).not.toMatch(/^\s*(ip_hash|hash|sticky)\b/m);
  });

  it('should commit no secret: every password and secret is a required ${…} substitution', () => {
    const checked: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(environmentOf(service ?? {}))) {
        if (/PASSWORD|SECRET|TOKEN|KEY/.test(key)) {
          expect(value, `${name}.${key}`).toMatch(/^\$\{\w+:\?[^}]*\}$/);
          checked.push(key);
        }
        if (/^postgres(ql)?:/.test(value)) {
          expect(value, `${name}.${key}`).toMatch(/^postgres(ql)?:\/\/[^:@/]+:\$\{\w+:\?[^}]*\}@/);
          checked.push(key);
        }
      }
    }
    expect(new Set(checked)).toEqual(new Set(['POSTGRES_PASSWORD', 'SESSION_SECRET', 'DATABASE_URL']));
    // Without the two variables, compose refuses to start.
    for (const missing of Object.keys(vars)) {
      const partial = Object.fromEntries(Object.entries(vars).filter(([key]) => key !== missing));
      expect(() => interpolate(composeText, partial)).toThrow(missing);
    }
  });
});

describe('deploy/fly.postgres.toml', () => {
  const fly = parseToml(read('deploy/fly.postgres.toml')) as unknown as FlyToml;
  const sqlite = parseToml(read('fly.toml')) as unknown as FlyToml;
  const config = loadConfig(fly.env);

  it('should mount no volume and keep at least two machines running, never stopped', () => {
    expect(fly.mounts).toBeUndefined();
    expect(fly.http_service.min_machines_running).toBeGreaterThanOrEqual(2);
    // A stopped machine would lose the unseals in its memory.
    expect(fly.http_service.auto_stop_machines).toBe('off');
  });

  it('should take DATABASE_URL and SESSION_SECRET from Fly secrets, not from the file', () => {
    expect(fly.env.DATABASE_URL).toBeUndefined();
    expect(fly.env.SESSION_SECRET).toBeUndefined();
  });

  it('should serve and check health like fly.toml, behind the proxy, over HTTPS only', () => {
    expect(fly.http_service.checks.map((c) => [c.method, c.path])).toEqual([['GET', '/api/v1/status']]);
    expect(fly.http_service.checks).toEqual(sqlite.http_service.checks);
    expect(fly.http_service.internal_port).toBe(config.port);
    expect(fly.http_service.force_https).toBe(true);
    expect(fly.kill_signal).toBe(sqlite.kill_signal);
    expect(fly.env.TRUST_PROXY).toBe('true');
    expect(config.trustProxy).toBe(true);
    expect(config.host).toBe('0.0.0.0');
  });
});

describe('README deploy sections', () => {
  const readme = read('README.md');

  it('should document what docker-compose.yml and deploy/fly.postgres.toml do', () => {
    for (const name of Object.keys(compose.services)) expect(readme).toContain(`\`${name}\``);
    for (const text of [
      'docker compose up',
      'deploy/nginx.conf',
      'fly postgres attach',
      'deploy/fly.postgres.toml',
      'fly-replay',
      'secretsfly copy --to',
    ]) {
      expect(readme).toContain(text);
    }
  });

  it('should list DATABASE_URL, INSTANCE_URL and INSTANCE_NAME in the configuration table', () => {
    const table = readme.slice(readme.indexOf('## Configuration'));
    for (const name of ['DATABASE_URL', 'INSTANCE_URL', 'INSTANCE_NAME']) {
      expect(table).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
    }
  });
});
