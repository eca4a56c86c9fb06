import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Actor, AuditService } from '../audit/audit.service.js';
import { hmacSha256Hex } from '../crypto/hash.js';
import type { Kdf } from '../crypto/kdf.js';
import type { Database } from '../db/database.js';
import { writeTransaction } from '../db/open.js';
import { AlreadyExists, InvalidRequest } from '../errors.js';
import { hashPassword, verifyPassword } from './password.js';
import { userRepository } from './user.repository.js';

export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;

export interface UserView {
  readonly id: string;
  readonly username: string;
  readonly createdAt: string;
}

export function createUserService(deps: {
  db: Kysely<Database>;
  kdf: Kdf;
  audit: Pick<AuditService, 'record' | 'recordAlone'>;
  now: () => Date;
}) {
  // Tags unknown sign-in names in the audit log (failedActorName); never stored.
  const unknownNameKey = randomBytes(32);
  const { db, kdf, audit, now } = deps;
  // Compared against when the username is unknown, so a miss costs the same time as a hit.
  let decoy: Promise<string> | undefined;

  async function create(username: string, password: string, actor: Actor): Promise<UserView> {
    if (!USERNAME.test(username)) {
      throw new InvalidRequest('a username is 1 to 64 letters, digits, ".", "_", "@" or "-"');
    }
    if (password.length < MIN_PASSWORD_LENGTH || password.length > 1024) {
      throw new InvalidRequest(`a password must be ${MIN_PASSWORD_LENGTH} to 1024 characters long`);
    }
    if (await userRepository.findUserByName(db, username)) throw new AlreadyExists('user', username);
    const passwordHash = await hashPassword(kdf, password);
    const user = { id: randomUUID(), username, password_hash: passwordHash, created_at: now().toISOString() };
    await writeTransaction(db, async (trx) => {
      if (await userRepository.findUserByName(trx, username)) throw new AlreadyExists('user', username);
      await userRepository.insertUser(trx, user);
      await audit.record(trx, { actor, action: 'user_created', details: { username } });
    });
    return { id: user.id, username, createdAt: user.created_at };
  }

  /** The user when the password matches, else undefined (same cost whether or not the user exists). */
  async function verify(username: string, password: string): Promise<UserView | undefined> {
    const row = await userRepository.findUserByName(db, username);
    if (!row) {
      decoy ??= hashPassword(kdf, randomUUID());
      await verifyPassword(kdf, password, await decoy);
      return undefined;
    }
    if (!(await verifyPassword(kdf, password, row.password_hash))) return undefined;
    return { id: row.id, username: row.username, createdAt: row.created_at };
  }

  /**
   * `verify`, audited: `login` with the user's name, or `login_failed` with the name tried (hashed if unknown).
   * `from` says where the attempt came from (address, user agent).
   */
  async function signIn(username: string, password: string, from: Omit<Actor, 'name'>): Promise<UserView | undefined> {
    const user = await verify(username, password);
    const name = user ? `user:${user.username}` : await failedActorName(username);
    await audit.recordAlone({ actor: { ...from, name }, action: user ? 'login' : 'login_failed' });
    return user;
  }

  /**
   * A known username as typed; an unknown one only as a short hash. People paste passwords and master
   * keys into the wrong field, and the audit log must not keep them; repeated tries of one name still
   * share one tag while this process runs. The tag is an HMAC under a key that lives only in this
   * process: a plain hash would let anyone with a copy of the log test password guesses against it.
   */
  async function failedActorName(username: string): Promise<string> {
    if (await userRepository.findUserByName(db, username)) return `user:${username}`;
    return `user:?${hmacSha256Hex(unknownNameKey, username).slice(0, 12)}`;
  }

  async function byId(id: string): Promise<UserView | undefined> {
    const row = await userRepository.findUserById(db, id);
    return row && { id: row.id, username: row.username, createdAt: row.created_at };
  }

  function count(): Promise<number> {
    return userRepository.countUsers(db);
  }

  return { create, verify, signIn, byId, count };
}

export type UserService = ReturnType<typeof createUserService>;
