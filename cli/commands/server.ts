import type { Command } from 'commander';
import { loadConfig } from '../../src/config.js';

export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run the server (what `npm start` runs); SIGTERM or SIGINT stops it gracefully')
    .action(async () => {
      // Listening for the signals before starting: one that arrives while the server starts stops it
      // as soon as it is up (sealed, database closed), instead of killing it half-way.
      let signalled!: () => void;
      const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
      process.once('SIGTERM', signalled);
      process.once('SIGINT', signalled);
      try {
        const { startServer } = await import('../../src/http/server.js');
        const server = await startServer(loadConfig());
        await stopRequested;
        await server.close();
      } finally {
        process.off('SIGTERM', signalled);
        process.off('SIGINT', signalled);
      }
    });
}
