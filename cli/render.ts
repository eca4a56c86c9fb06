import { PULL_FORMATS, type PullFormat } from '../src/formats/names.js';
import { toDockerEnvFile } from '../src/formats/docker.js';
import { toDotenvExport } from '../src/formats/dotenv-export.js';
import { toDotenv } from '../src/formats/dotenv.js';
import { toEnvNoQuotes } from '../src/formats/env-no-quotes.js';
import { toShell } from '../src/formats/shell.js';
import { Unwritable } from '../src/formats/unwritable.js';
import { toYaml } from '../src/formats/yaml.js';
import { CliError } from './io.js';

/**
 * What `pull --format` prints. Every format is rendered here, from the resolved values, whatever the
 * token: a keyed and a classic token get the same bytes. Each format's rule is in its module in
 * src/formats/; a value a format cannot carry exactly is refused, naming the key, never altered.
 */
export { PULL_FORMATS, type PullFormat };

/** `pull --format json`: the values, a typed secret as its object. */
export const renderJson = (values: ReadonlyMap<string, string | Record<string, string>>): string =>
  `${JSON.stringify(Object.fromEntries(values), null, 2)}\n`;

const RENDERERS: Record<PullFormat, (values: ReadonlyMap<string, string>) => string> = {
  json: renderJson,
  dotenv: toDotenv,
  'dotenv-export': toDotenvExport,
  'env-no-quotes': toEnvNoQuotes,
  docker: toDockerEnvFile,
  yaml: toYaml,
  shell: toShell,
};

/** The document for `format`; a value it cannot carry is a CliError: `KEY cannot be written as <format>: <reason>`. */
export function renderValues(values: ReadonlyMap<string, string>, format: PullFormat): string {
  try {
    return RENDERERS[format](values);
  } catch (error) {
    if (error instanceof Unwritable) throw new CliError(`${error.key} cannot be written as ${format}: ${error.reason}`);
    throw error;
  }
}
