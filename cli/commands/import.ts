import type { Command } from 'commander';
import { globals, withContext } from '../context.js';
import { SurprisingDotenv } from '../../src/errors.js';
import { describeDotenvWarning, findSurprisingDotenvLines } from '../../src/formats/dotenv-lines.js';
import { CliError, cliActor, printJson, printTable, readTextFile, say, withMasterKey } from '../io.js';
import { withProgress } from '../progress.js';
import { masterKeyOption } from './secret-types.js';

/** `import` (a dotenv file into a project, one transaction) and `diff` (keys missing per environment). */
export function registerImportCommands(program: Command): void {
  program
    .command('import <project> <env> <file>')
    .description('write every key of a dotenv file, in one transaction')
    .option(...masterKeyOption)
    .option('--allow-warnings', 'import even when some lines would not be read as written (each is reported)')
    .action(
      async (
        project: string,
        env: string,
        file: string,
        options: { masterKeyFile?: string; allowWarnings?: boolean },
        command: Command,
      ) => {
        const content = readTextFile(file);
        // Every surprising line on stderr, whether the import then goes ahead (--allow-warnings) or not.
        const warnings = findSurprisingDotenvLines(content);
        for (const warning of warnings) say(`${file}: ${describeDotenvWarning(warning)}`);
        await withContext((ctx) =>
          withMasterKey(options, async (masterKey) => {
            const result = await withProgress('import', (onProgress) =>
              ctx.secrets.importDotenv(
                { project, environment: env, content, allowWarnings: options.allowWarnings === true },
                { masterKey },
                cliActor(),
                onProgress,
              ),
            ).catch((error: unknown) => {
              if (error instanceof SurprisingDotenv) {
                throw new CliError(
                  `nothing was imported: ${error.warnings.length} surprising line(s) in ${file} (listed above); fix them or pass --allow-warnings`,
                );
              }
              throw error;
            });
            if (globals(command).json)
              printJson({ project, environment: env, written: result.written, unchanged: result.unchanged, warnings });
            else
              say(
                `imported ${result.written.length} keys into ${project}/${env} (${result.unchanged.length} unchanged)`,
              );
          }),
        );
      },
    );

  program
    .command('diff <project>')
    .description('keys present in some environments but missing in others (resolved)')
    .action(async (project: string, _options, command: Command) => {
      await withContext(async (ctx) => {
        const result = await ctx.secrets.diff(project);
        if (globals(command).json) {
          printJson(result.missing.map((r) => ({ key: r.key, present_in: r.presentIn, missing_in: r.missingIn })));
          return;
        }
        if (result.missing.length === 0) {
          say(`every key of ${project} is present in all ${result.environments.length} environments`);
          return;
        }
        printTable(
          ['KEY', 'MISSING IN', 'PRESENT IN'],
          result.missing.map((r) => [r.key, r.missingIn.join(','), r.presentIn.join(',')]),
          '',
        );
      });
    });
}
