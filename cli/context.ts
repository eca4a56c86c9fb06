import type { Command } from 'commander';
import { loadConfig } from '../src/config.js';
import { type AppContext, createContext } from '../src/main.js';

export interface GlobalOptions {
  json?: boolean;
}

/** Opens DATA_DIR (migrating it and creating the configured environments), runs `fn`, then seals and closes. */
export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await createContext(loadConfig());
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();
