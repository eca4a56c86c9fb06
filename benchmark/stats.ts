/** One figure measured over several runs: the median, and the spread as min–max. */
export interface Figure {
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

export function figure(unit: string, runs: readonly number[]): Figure {
  const sorted = [...runs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { unit, median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs };
}

export interface Goal {
  readonly text: string;
  readonly met: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly figures: Record<string, Figure>;
  readonly goals: readonly Goal[];
  readonly notes?: readonly string[];
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}
