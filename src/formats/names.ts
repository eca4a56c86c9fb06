/**
 * The formats `pull --format` prints (cli/render.ts renders them). Alone in this module so that
 * naming them costs the CLI nothing: the renderers, and the parsers they check with, load only on a pull.
 */
export const PULL_FORMATS = ['json', 'dotenv', 'dotenv-export', 'env-no-quotes', 'docker', 'yaml', 'shell'] as const;

export type PullFormat = (typeof PULL_FORMATS)[number];
