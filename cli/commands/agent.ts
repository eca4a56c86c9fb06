import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { HOST_HELD_TYPES, MAX_SYNC_ITEMS } from '../../src/agents/host-held-fns.js';
import { assertSecretKey, assertSecretValue } from '../../src/secrets/secret-key.js';
import { agentName, agentServer, type AgentServer, fetchTitles, pushTitles, titlesOf } from '../agent/agent-server.js';
import {
  agentDataDir,
  type AgentStore,
  type KnownScope,
  loadKey,
  readStore,
  scopeKey,
  withStoreLock,
  writeStore,
} from '../agent/agent-store.js';
import { globals } from '../context.js';
import {
  CliError,
  dropOneTrailingNewline,
  printJson,
  printTable,
  promptHidden,
  readStdin,
  readTextFile,
  say,
  UsageError,
} from '../io.js';

/** The largest value the agent keeps (the server's default MAX_SECRET_BYTES; the server never sees it). */
const MAX_VALUE_BYTES = 65_536;
const exact = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface AgentOptions {
  agent?: string;
}

/** The scope the server says the token is for, remembered in the store for `run`. */
async function learnScope(server: AgentServer, store: AgentStore): Promise<{ scope: KnownScope; store: AgentStore }> {
  const listed = await fetchTitles(server);
  const scope = { project: listed.project, environment: listed.environment };
  const key = scopeKey(server.url, server.token);
  const known = key === undefined ? undefined : store.scopes[key];
  if (key === undefined || (known?.project === scope.project && known.environment === scope.environment)) {
    return { scope, store };
  }
  return { scope, store: { ...store, scopes: { ...store.scopes, [key]: scope } } };
}

async function readValue(fromFile: string | undefined): Promise<string> {
  if (fromFile !== undefined) return dropOneTrailingNewline(readTextFile(fromFile, fromFile, exact));
  if (process.stdin.isTTY) return promptHidden('Value (hidden): ');
  return dropOneTrailingNewline(await readStdin(exact));
}

const where = (scope: KnownScope) => `${scope.project}/${scope.environment}`;

export function registerAgentCommands(program: Command): void {
  const agent = program
    .command('agent')
    .description('host-held secrets: kept encrypted on this host (AGENT_DATA_DIR); only their titles reach the server')
    .option('--agent <name>', "this agent's name (default: AGENT_NAME, else the host name)");
  const options = (command: Command) => command.optsWithGlobals<AgentOptions & { json?: boolean }>();
  // Positional options: each level owns what is written after it, so every level takes --agent.
  const named = (command: Command) => command.option('--agent <name>', "this agent's name");

  named(agent.command('sync'))
    .description("send this host's titles (never values) to the server, replacing what it had from this agent")
    .action(async (_options, command: Command) => {
      const dir = agentDataDir();
      const server = agentServer(agentName(options(command).agent));
      await withStoreLock(dir, async () => {
        const key = loadKey(dir, { create: false });
        const before = readStore(dir, key);
        const { scope, store } = await learnScope(server, before);
        const titles = titlesOf(store.secrets, scope);
        await pushTitles(server, titles);
        if (key && store !== before) writeStore(dir, key, store);
        if (globals(command).json) printJson({ agent: server.agent, ...scope, synced: titles.length });
        else say(`synced ${titles.length} host-held secret(s) of ${where(scope)} as agent ${server.agent}`);
      });
    });

  const secrets = named(agent.command('secrets')).description('the secrets this host holds');

  named(secrets.command('add <NAME>'))
    .description('keep a secret on this host (value from --from-file, stdin, or a hidden prompt) and sync its title')
    .option('--type <type>', HOST_HELD_TYPES.join(', '), 'generic')
    .option('--from-file <path>', 'read the value from this file')
    .action(async (name: string, addOptions: { type: string; fromFile?: string }, command: Command) => {
      assertSecretKey(name);
      if (!(HOST_HELD_TYPES as readonly string[]).includes(addOptions.type)) {
        throw new UsageError(`--type takes ${HOST_HELD_TYPES.join(', ')}`);
      }
      const dir = agentDataDir();
      const server = agentServer(agentName(options(command).agent));
      const value = await readValue(addOptions.fromFile);
      assertSecretValue(name, value, MAX_VALUE_BYTES);
      await withStoreLock(dir, async () => {
        const key = loadKey(dir, { create: true })!;
        const { scope, store } = await learnScope(server, readStore(dir, key));
        const now = new Date().toISOString();
        const existing = store.secrets.find(
          (s) => s.name === name && s.project === scope.project && s.environment === scope.environment,
        );
        const held = {
          id: existing?.id ?? randomUUID(),
          name,
          type: addOptions.type,
          project: scope.project,
          environment: scope.environment,
          value,
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
        };
        const next: AgentStore = {
          ...store,
          secrets: [...store.secrets.filter((s) => s !== existing), held].sort((a, b) => a.name.localeCompare(b.name)),
        };
        const titles = titlesOf(next.secrets, scope);
        if (titles.length > MAX_SYNC_ITEMS) {
          throw new CliError(`an agent holds at most ${MAX_SYNC_ITEMS} secrets per project and environment`);
        }
        // The server first: a name it refuses (a server-held secret's) changes nothing here either.
        await pushTitles(server, titles);
        writeStore(dir, key, next);
        if (globals(command).json) printJson({ id: held.id, name, type: held.type, ...scope, agent: server.agent });
        else say(`${existing ? 'replaced' : 'added'} ${name} in ${where(scope)}, held on host ${server.agent}`);
      });
    });

  named(secrets.command('list'))
    .description('the secrets this host holds (titles, never values); reads the file only')
    .action(async (_options, command: Command) => {
      const dir = agentDataDir();
      const store = readStore(dir, loadKey(dir, { create: false }));
      if (globals(command).json) {
        printJson(
          store.secrets.map((s) => ({
            id: s.id,
            name: s.name,
            type: s.type,
            project: s.project,
            environment: s.environment,
            created_at: s.createdAt,
            updated_at: s.updatedAt,
          })),
        );
      } else {
        printTable(
          ['NAME', 'TYPE', 'PROJECT', 'ENV', 'UPDATED'],
          store.secrets.map((s) => [s.name, s.type, s.project, s.environment, s.updatedAt]),
          `no host-held secrets in ${dir}`,
        );
      }
    });

  named(secrets.command('test [NAME...]'))
    .description(
      'check the file opens, each named secret (default: all) is held here, and the server lists exactly its titles',
    )
    .action(async (names: string[], _options, command: Command) => {
      const dir = agentDataDir();
      const server = agentServer(agentName(options(command).agent));
      const store = readStore(dir, loadKey(dir, { create: false }));
      const listed = await fetchTitles(server);
      const scope = { project: listed.project, environment: listed.environment };
      const local = store.secrets.filter((s) => s.project === scope.project && s.environment === scope.environment);
      const remote = listed.secrets;
      const wanted = names.length > 0 ? names : [...new Set([...local, ...remote].map((s) => s.name))].sort();
      const results = wanted.map((name) => {
        const here = local.find((s) => s.name === name);
        const there = remote.find((s) => s.name === name);
        const state = !here
          ? there
            ? 'on the server only: run secretsfly agent sync'
            : 'not held here'
          : typeof here.value !== 'string'
            ? 'damaged: add it again'
            : !there || there.id !== here.id
              ? 'held here, not synced: run secretsfly agent sync'
              : 'ok';
        return { name, state };
      });
      if (globals(command).json) printJson({ agent: server.agent, ...scope, secrets: results });
      else
        printTable(
          ['NAME', 'STATE'],
          results.map((r) => [r.name, r.state]),
          `no host-held secrets in ${where(scope)}`,
        );
      if (results.some((r) => r.state !== 'ok')) process.exitCode = 1;
    });

  named(secrets.command('remove <NAME>'))
    .description('forget a secret on this host and sync')
    .action(async (name: string, _options, command: Command) => {
      assertSecretKey(name);
      const dir = agentDataDir();
      const server = agentServer(agentName(options(command).agent));
      await withStoreLock(dir, async () => {
        const key = loadKey(dir, { create: false });
        const { scope, store } = await learnScope(server, readStore(dir, key));
        const held = store.secrets.find(
          (s) => s.name === name && s.project === scope.project && s.environment === scope.environment,
        );
        if (!held || !key) throw new CliError(`${name} is not held on this host for ${where(scope)}`);
        const next: AgentStore = { ...store, secrets: store.secrets.filter((s) => s !== held) };
        // Here first: the server's stale title then only blocks the name until the next sync.
        writeStore(dir, key, next);
        try {
          await pushTitles(server, titlesOf(next.secrets, scope));
        } catch (error) {
          throw new CliError(
            `removed ${name} on this host, but the server still lists it (${(error as Error).message}): run 'secretsfly agent sync'`,
          );
        }
        if (globals(command).json) printJson({ removed: name, ...scope, agent: server.agent });
        else say(`removed ${name} from ${where(scope)} on host ${server.agent}`);
      });
    });
}
