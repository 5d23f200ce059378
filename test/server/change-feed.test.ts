import { Client } from 'pg';
import { eventually } from '../support/checkout-harness';
import { describePostgres, STORAGES, TestDatabase } from '../support/databases';

/**
 * The change feed behind every instance's caches (order status, sessions): a notification that
 * could not be heard must at least be reported as a gap, so that caches forget what they hold.
 */
describePostgres('change feed on PostgreSQL', () => {
  let storage: TestDatabase;

  beforeAll(async () => {
    storage = await STORAGES.find((candidate) => candidate.name === 'postgres')!.open();
  });

  afterAll(async () => {
    await storage.dispose();
  });

  it('should report a gap when the listening connection drops, and again once it listens again', async () => {
    const heard: string[] = [];
    let gaps = 0;
    const unlisten = await storage.db.listen('feed_test', {
      onNotification: (payload) => heard.push(payload),
      onGap: () => {
        gaps += 1;
      },
    });
    try {
      const admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN feed_test'`);
        expect(
          await eventually(
            async () => gaps,
            (count) => count >= 1,
          ),
        ).toBe(1);
        // Changes made before the feed listens again were not heard: a second gap says so.
        expect(
          await eventually(
            async () => gaps,
            (count) => count >= 2,
          ),
        ).toBe(2);
        await admin.query(`NOTIFY feed_test, 'after'`);
        expect(
          await eventually(
            async () => heard,
            (payloads) => payloads.includes('after'),
          ),
        ).toContain('after');
      } finally {
        await admin.end();
      }
    } finally {
      await unlisten();
    }
  });
});
