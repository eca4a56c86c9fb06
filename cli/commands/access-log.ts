import type { Command } from 'commander';
import { globals, withContext } from '../context.js';
import { printJson, printTable } from '../io.js';

/** `secretsfly secret access-log <project> <env> <KEY>`. */
export function registerAccessLogCommand(secret: Command): void {
  secret
    .command('access-log <project> <env> <KEY>')
    .description('who received or revealed the value of a key of this project: how, when, from where; never the value')
    .action(async (project: string, env: string, key: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const entries = await ctx.accessLog.list({ project, environment: env, key });
        if (globals(command).json)
          printJson(
            entries.map((e) => ({
              actor: e.actor,
              kind: e.kind,
              id: e.id,
              name: e.name,
              revoked: e.revoked,
              via: e.via,
              first_at: e.firstAt,
              last_at: e.lastAt,
              count: e.count,
              last_ip: e.lastIp,
              last_user_agent: e.lastUserAgent,
              first_seq: e.firstSeq,
              last_seq: e.lastSeq,
            })),
          );
        else
          printTable(
            ['WHO', 'HOW', 'FIRST', 'LAST', 'COUNT', 'FROM'],
            entries.map((e) => [
              e.kind === 'token' ? `token ${e.name ?? '(deleted)'} (${e.id})${e.revoked ? ' revoked' : ''}` : e.actor,
              e.how,
              e.firstAt,
              e.lastAt,
              e.count,
              [e.lastIp, e.lastUserAgent].filter(Boolean).join(' ') || '-',
            ]),
            `nobody has received or revealed ${key} of ${project}/${env}`,
          );
      });
    });
}
