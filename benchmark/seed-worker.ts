import { seedPullFixture } from './pull-fixture.js';

// Seeds the pull fixture in a process of its own (seedPullFixtureApart) and sends it back.
process.once('message', async (message) => {
  const { prefix, databaseUrl } = message as { prefix: string; databaseUrl?: string };
  const { remove: _remove, ...fixture } = await seedPullFixture(
    prefix,
    databaseUrl === undefined ? {} : { databaseUrl },
  );
  process.send!(fixture, () => process.exit(0));
});
