import type { Command } from 'commander';
import { globals, withContext } from '../context.js';
import { dropOneTrailingNewline, printJson, printTable, readTextFile, UsageError } from '../io.js';
import { isStructuredType, SECRET_TYPES, type TypedValue } from '../../src/secrets/typed-secrets.js';
import type { CertificateMetadata } from '../../src/secrets/typed-validation.js';

/** The CLI's side of typed secrets (README, "Secret types"): `--type`, `--field`, `expiring`. */

/** The option of every server-side command that needs a root's master key. */
export const masterKeyOption = [
  '--master-key-file <path>',
  "file holding the master key of the project's root",
] as const;

/** A certificate in one line: whom it names and when it expires (or expired). */
export function describeCertificate(certificate: CertificateMetadata): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? certificate.subject.replace(/\n/g, ', ');
  const expired = Date.parse(certificate.not_after) < Date.now();
  return `${cn}, ${expired ? 'expired' : 'expires'} ${certificate.not_after.slice(0, 10)}`;
}

export const collectField = (field: string, fields: string[]) => [...fields, field];

/** `--type` and `--field name=value|name=@file` as a typed value; undefined for a generic one. */
export function typedFromOptions(
  options: { type: string; field: string[]; fromFile?: string },
  argument: string | undefined,
): TypedValue | undefined {
  if (options.type === 'generic') {
    if (options.field.length > 0) throw new UsageError(`--field needs --type (${SECRET_TYPES.slice(1).join(', ')})`);
    return undefined;
  }
  if (!isStructuredType(options.type)) throw new UsageError(`--type takes ${SECRET_TYPES.join(', ')}`);
  if (argument !== undefined || options.fromFile !== undefined) {
    throw new UsageError(`a ${options.type} takes --field name=value (or name=@file), not a value`);
  }
  const fields: Record<string, string> = Object.create(null);
  for (const field of options.field) {
    const at = field.indexOf('=');
    // Never echoed: what was typed may be the value itself (`--field =hunter2`).
    if (at < 1) throw new UsageError('--field takes name=value or name=@file (a field name, then =)');
    const name = field.slice(0, at);
    const value = field.slice(at + 1);
    if (Object.hasOwn(fields, name)) throw new UsageError(`--field ${name} is given twice`);
    fields[name] = value.startsWith('@') ? dropOneTrailingNewline(readTextFile(value.slice(1))) : value;
  }
  return { type: options.type, fields: { ...fields } };
}

/** `secretsfly expiring [--within 30d]`: certificates about to expire, exit 1 when there is one (for cron). */
export function registerExpiringCommand(program: Command): void {
  program
    .command('expiring')
    .description('certificates that expire within the window (expired ones too); exit 1 when there is one')
    .option('--within <duration>', 'how far ahead to look: 12h, 30d …', '30d')
    .action(async (options: { within: string }, command: Command) => {
      const { parseDuration } = await import('../../src/tokens/token-duration.js');
      let seconds: number;
      try {
        seconds = parseDuration(options.within);
      } catch {
        throw new UsageError('--within takes a number and s, m, h or d, e.g. 30d');
      }
      await withContext(async (ctx) => {
        const now = ctx.now();
        const rows = await ctx.secrets.expiring(new Date(now.getTime() + seconds * 1000));
        const days = (at: string) => Math.floor((Date.parse(at) - now.getTime()) / 86_400_000);
        if (globals(command).json) printJson(rows.map((r) => ({ ...r, days_left: days(r.certificate.not_after) })));
        else
          printTable(
            ['PROJECT', 'ENV', 'KEY', 'SUBJECT', 'EXPIRES', 'DAYS LEFT'],
            rows.map((r) => [
              r.project,
              r.environment,
              r.key,
              r.certificate.subject.replace(/\n/g, ', '),
              r.certificate.not_after,
              days(r.certificate.not_after) < 0 ? 'expired' : days(r.certificate.not_after),
            ]),
            `no certificate expires within ${options.within}`,
          );
        if (rows.length > 0) process.exitCode = 1;
      });
    });
}
