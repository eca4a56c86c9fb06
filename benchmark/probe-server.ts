import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/http/server.js';
import { createLogger } from '../src/logger.js';

// The real server, started as `serve` starts it, plus an event-loop delay monitor the bench reads over IPC.
const histogram = monitorEventLoopDelay({ resolution: 5 });
const server = await startServer(loadConfig(), { logger: createLogger('error'), announce: () => {} });
histogram.enable();
process.send!({ url: server.url });
process.on('message', (message) => {
  if (message === 'reset') {
    histogram.reset();
    process.send!({ reset: true });
  } else if (message === 'report') {
    process.send!({
      maxMs: histogram.max / 1e6,
      p99Ms: histogram.percentile(99) / 1e6,
      meanMs: histogram.mean / 1e6,
      derivations: server.ctx.kdf.derivations,
    });
  }
});
