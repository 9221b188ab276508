import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

describe('managed cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    // A cluster of its own: on a shared one, the test harness's reset, not ayb, made database ayb.
    cluster = await startTestCluster({ private: true });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs PostgreSQL 15 with the main database ayb', async () => {
    const { rows } = await cluster.query<{ v: string; db: string }>("SELECT current_setting('server_version_num') AS v, current_database() AS db");
    expect(rows[0]!.v.slice(0, 2)).toBe('15');
    expect(rows[0]!.db).toBe('ayb');
  });
});
