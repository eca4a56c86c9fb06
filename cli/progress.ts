import { createRequire } from 'node:module';
import type { MultiBar, SingleBar } from 'cli-progress';

/** What a long operation reports as it goes: `done` of `total` units (keys, rows, versions, scenarios). */
export type OnProgress = (done: number, total: number) => void;

export interface Progress {
  /** Moves the bar; a new total (known late, or changed by a retry) is taken as it comes. */
  readonly update: OnProgress;
  /** A line of text for stderr that keeps the bar below it (as is, on a stream that is not a terminal). */
  log(line: string): void;
  /** Draws the bar one last time and leaves it; the next line of output starts below it. */
  stop(): void;
}

/**
 * A progress bar on stderr, drawn only when stderr is a terminal: piped or redirected, the operation
 * prints exactly what it printed before and nothing else. cli-progress is loaded only for a bar, so
 * commands that never draw one start without it.
 */
export function startProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return { update: () => undefined, log: (line) => void stream.write(`${line}\n`), stop: () => undefined };
  }
  const { MultiBar: Bars, Presets } = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bars: MultiBar = new Bars(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`,
      // Left visible: a bar interrupted by Ctrl-C must not leave the terminal without a cursor.
      hideCursor: false,
      // The bar is redrawn at most this often, however many updates arrive (an import reports every key).
      fps: 10,
    },
    Presets.shades_classic,
  );
  let bar: SingleBar | undefined;
  let stopped = false;
  return {
    update(done, total) {
      if (stopped) return;
      if (!bar) bar = bars.create(total, done);
      else {
        if (bar.getTotal() !== total) bar.setTotal(total);
        bar.update(done);
      }
    },
    log(line) {
      if (stopped || !bar) stream.write(`${line}\n`);
      else bars.log(`${line}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // Nothing drawn yet (the operation failed first): nothing to finish.
      if (bar) bars.stop();
    },
  };
}

/** Runs `operation` with a bar that is stopped however it ends, before anything else is printed. */
export async function withProgress<T>(label: string, operation: (onProgress: OnProgress) => Promise<T>): Promise<T> {
  const progress = startProgress(label);
  try {
    return await operation(progress.update);
  } finally {
    progress.stop();
  }
}
