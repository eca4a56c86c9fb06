import type { Command } from 'commander';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/http/server.js';

export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run the server (what `npm start` runs); SIGTERM or SIGINT stops it gracefully')
    .action(async () => {
      const server = await startServer(loadConfig());
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          server.close().then(resolve, resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
