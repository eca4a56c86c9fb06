import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashedSessionStore, sessionKey } from '../../src/http/session-store.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FormClient } from '../helpers/form-client.js';
import { actor, tempDir } from '../helpers/test-context.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const MINUTE = 60_000;

describe('admin session lifetime: SESSION_TTL from sign-in, SESSION_IDLE_TIMEOUT between requests', () => {
  const clock = new FakeClock();
  let server: TestServer;
  let masterKey: string;
  let rootId: string;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    server = await startTestServer(
      { SESSION_TTL: '300', SESSION_IDLE_TIMEOUT: '120', ADMIN_MASTER_KEY_EXPIRATION: '3600' },
      { now: clock.date },
    );
    await server.ctx.users.create('admin', password, actor);
    const created = await server.ctx.projects.create({ name: 'acme' }, actor);
    masterKey = created.masterKey!;
    rootId = created.project.id;
  });
  afterAll(() => server.close());

  const signedIn = async (browser: FormClient) => (await browser.get('/')).status === 200;

  it('should end a session idle for longer than SESSION_IDLE_TIMEOUT, and wipe its unseal', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    await admin.get('/');
    expect((await admin.post('/projects/acme/unseal', { masterKey, back: '/' })).status).toBe(303);
    expect(server.ctx.keystore.isUnsealed(rootId)).toBe(true);

    clock.advance(110_000);
    expect(await signedIn(admin)).toBe(true);
    // Activity keeps it: 110 s more after the last request.
    clock.advance(110_000);
    expect(await signedIn(admin)).toBe(true);
    clock.advance(121_000);
    const stale = await admin.get('/');
    expect([stale.status, stale.location]).toEqual([303, '/login']);
    // The unseal went with the session, long before ADMIN_MASTER_KEY_EXPIRATION.
    expect(server.ctx.keystore.isUnsealed(rootId)).toBe(false);
  });

  it('should end a session SESSION_TTL after sign-in however active it was', async () => {
    const admin = new FormClient(server.url);
    await admin.login('admin', password);
    for (let elapsed = 0; elapsed < 290_000; elapsed += 58_000) {
      clock.advance(58_000);
      expect(await signedIn(admin), `after ${elapsed + 58_000} ms`).toBe(true);
    }
    clock.advance(15_000);
    const expired = await admin.get('/');
    expect([expired.status, expired.location]).toEqual([303, '/login']);
    // Signing in again starts a new lifetime.
    await admin.login('admin', password);
    expect(await signedIn(admin)).toBe(true);
  });
});

describe('the session store', () => {
  it('should purge expired rows without a request, telling which sessions ended', async () => {
    const clock = new FakeClock();
    const ended: string[] = [];
    const store = new HashedSessionStore({
      file: path.join(tempDir(), 'sessions.db'),
      ttlMs: 10 * MINUTE,
      idleMs: MINUTE,
      now: clock.now,
      onEnd: (key) => ended.push(key),
    });
    try {
      const data = { cookie: { originalMaxAge: null }, userId: 'u1' } as never;
      store.set('sid-idle', data);
      store.set('sid-busy', data);
      clock.advance(50_000);
      store.touch('sid-busy', data);
      clock.advance(20_000);
      expect(await store.purgeExpired()).toBe(1);
      expect(ended).toEqual([sessionKey('sid-idle')]);
      expect(await store.size()).toBe(1);
      clock.advance(MINUTE);
      expect(await store.purgeExpired()).toBe(1);
      expect(await store.size()).toBe(0);
    } finally {
      store.close();
    }
  });

  it('should end here the unseals of a session that another instance ended', async () => {
    // Two stores on one table stand for two instances sharing it (PostgreSQL's admin_sessions).
    const file = path.join(tempDir(), 'sessions.db');
    const clock = new FakeClock();
    const endedHere: string[] = [];
    const here = new HashedSessionStore({
      file,
      ttlMs: 10 * MINUTE,
      idleMs: 5 * MINUTE,
      now: clock.now,
      onEnd: (key) => endedHere.push(key),
    });
    const there = new HashedSessionStore({
      file,
      ttlMs: 10 * MINUTE,
      idleMs: 5 * MINUTE,
      now: clock.now,
      onEnd: () => {},
    });
    try {
      const data = { cookie: { originalMaxAge: null }, userId: 'u1' } as never;
      here.set('signs-out-there', data);
      here.set('goes-idle', data);
      here.set('stays', data);
      there.destroy('signs-out-there');
      clock.advance(4 * MINUTE);
      here.touch('stays', data);
      clock.advance(2 * MINUTE);
      await here.dropEnded(['signs-out-there', 'goes-idle', 'stays'].map(sessionKey));
      expect(endedHere.sort()).toEqual([sessionKey('signs-out-there'), sessionKey('goes-idle')].sort());
    } finally {
      here.close();
      there.close();
    }
  });

  it('should not let a request that loaded a session before it ended bring it back by saving it', () => {
    const clock = new FakeClock();
    const store = new HashedSessionStore({
      file: path.join(tempDir(), 'sessions.db'),
      ttlMs: 10 * MINUTE,
      idleMs: MINUTE,
      now: clock.now,
      onEnd: () => {},
    });
    const load = (sid: string) =>
      new Promise<unknown>((resolve) => store.get(sid, (_error, data) => resolve(data ?? undefined)));
    try {
      store.set('signed-out', { cookie: { originalMaxAge: null }, userId: 'u1' } as never);
      store.set('went-idle', { cookie: { originalMaxAge: null }, userId: 'u1' } as never);
      return (async () => {
        // A slow request loads both sessions; meanwhile one signs out and the other goes idle and is purged.
        const inFlight = { out: (await load('signed-out')) as never, idle: (await load('went-idle')) as never };
        store.destroy('signed-out');
        clock.advance(2 * MINUTE);
        await store.purgeExpired();
        // The slow request ends and saves what it loaded (a flash, say).
        store.set('signed-out', inFlight.out);
        store.set('went-idle', inFlight.idle);
        expect(await load('signed-out')).toBeUndefined();
        expect(await load('went-idle')).toBeUndefined();
        expect(await store.size()).toBe(0);
        // Once past the absolute deadline, even a save with no tombstone left stores nothing.
        clock.advance(10 * MINUTE);
        await store.purgeExpired();
        store.set('went-idle', inFlight.idle);
        expect(await load('went-idle')).toBeUndefined();
      })().finally(() => store.close());
    } catch (error) {
      store.close();
      throw error;
    }
  });
});
