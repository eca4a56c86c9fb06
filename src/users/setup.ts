import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor } from '../audit/audit.service.js';
import type { UserService, UserView } from './user.service.js';

/**
 * The one-time link that creates the first admin. The token lives in this process only, works once,
 * and stops working as soon as any admin exists (one made with the CLI included).
 */
export function createSetupGate(users: Pick<UserService, 'count' | 'create'>) {
  const token = randomBytes(32).toString('base64url');
  let used = false;

  async function isOpen(): Promise<boolean> {
    return !used && (await users.count()) === 0;
  }

  async function accepts(candidate: unknown): Promise<boolean> {
    if (typeof candidate !== 'string' || candidate.length !== token.length) return false;
    return timingSafeEqual(Buffer.from(candidate), Buffer.from(token)) && (await isOpen());
  }

  async function complete(
    candidate: unknown,
    username: string,
    password: string,
    actor: Actor,
  ): Promise<UserView | undefined> {
    if (!(await accepts(candidate)) || used) return undefined;
    // Claimed before the next await, so two concurrent submissions cannot both create an admin.
    used = true;
    try {
      return await users.create(username, password, actor);
    } catch (error) {
      used = false;
      throw error;
    }
  }

  return { token, isOpen, accepts, complete };
}

export type SetupGate = ReturnType<typeof createSetupGate>;
