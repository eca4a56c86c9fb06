/**
 * The scenarios, in the order they run. Apart from run.ts so the CLI can name them in its help
 * without loading the benchmark itself (and its load generator, a dev dependency).
 */
export const SCENARIO_NAMES = [
  'crypto-floor',
  'unseal',
  'resolve-depth',
  'storage',
  'reencrypt',
  'kdf-isolation',
  'api-pull',
  'api-pull-keyed',
  'api-pull-sealed',
  'api-pull-postgres',
  'pull-cold-start',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];
