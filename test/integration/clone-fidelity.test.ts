import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runCli } from '../helpers/cli.js';
import { fingerprint, type Fingerprint } from '../helpers/fingerprint.js';
import { loadPagila } from '../helpers/pagila.js';

describe.each(['dump', 'template'] as const)('a %s branch of Pagila is a faithful, isolated copy', (strategy) => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let main: Fingerprint;
  const branch = `pagila-${strategy}`;
  const branchDb = `ayb_branch_pagila_${strategy}`;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'pagila');
    // Large objects and moved sequences must come along too.
    await cluster.query("SELECT lo_from_bytea(0, convert_to('first large object', 'UTF8')), lo_from_bytea(0, decode(repeat('ab', 5000), 'hex'))", [], 'pagila');
    await cluster.query("SELECT setval('public.actor_actor_id_seq', 5000, false)", [], 'pagila');
    await cluster.query('REFRESH MATERIALIZED VIEW public.rental_by_category', [], 'pagila');
    env = { AYB_DATABASE_URL: cluster.url('pagila') };
    const created = await runCli(['branch', 'create', branch, '--strategy', strategy, '--json'], { env });
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    expect(created.json()).toMatchObject({ status: 'ready', strategy });
    main = await fingerprint(cluster, 'pagila');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('has every table with the same rows, and the same sequences and large objects', async () => {
    const copy = await fingerprint(cluster, branchDb);
    expect(Object.keys(main.tables).length).toBeGreaterThan(20);
    expect(main.tables['public.payment_p2022_01']!.rows).toBeGreaterThan(0);
    expect(main.tables['public.rental_by_category']!.rows).toBeGreaterThan(0);
    expect(copy.tables).toEqual(main.tables);
    expect(copy.sequences).toEqual(main.sequences);
    expect(copy.sequences['public.actor_actor_id_seq']).toBe('5000/false');
    expect(Object.keys(main.largeObjects)).toHaveLength(2);
    expect(copy.largeObjects).toEqual(main.largeObjects);
  });

  it('has every view, materialized view, function, trigger, domain, enum and partition', async () => {
    const copy = await fingerprint(cluster, branchDb);
    expect(main.views['public.rental_by_category:m']).toBeDefined();
    expect(main.enums['public.mpaa_rating']).toBe('G,PG,PG-13,R,NC-17');
    expect(Object.keys(main.domains)).toContain('public.year');
    expect(Object.keys(main.partitions).length).toBeGreaterThanOrEqual(7);
    expect(Object.keys(main.triggers).length).toBeGreaterThan(10);
    expect(Object.keys(main.functions).length).toBeGreaterThan(5);
    for (const kind of ['views', 'functions', 'triggers', 'domains', 'enums', 'partitions'] as const) {
      expect(copy[kind], kind).toEqual(main[kind]);
    }
  });

  it('does not carry the control table', async () => {
    const { rows } = await cluster.query("SELECT to_regclass('public._ayb_branches') IS NULL AS absent", [], branchDb);
    expect(rows[0]!.absent).toBe(true);
  });

  it('isolates writes in both directions', async () => {
    await cluster.query("INSERT INTO actor (first_name, last_name) VALUES ('BRANCH', 'ONLY')", [], branchDb);
    await cluster.query("UPDATE film SET title = 'MAIN ONLY' WHERE film_id = 1", [], 'pagila');
    const inMain = await cluster.query("SELECT count(*)::int AS n FROM actor WHERE last_name = 'ONLY'", [], 'pagila');
    const inBranch = await cluster.query('SELECT title FROM film WHERE film_id = 1', [], branchDb);
    expect(inMain.rows[0]!.n).toBe(0);
    expect(inBranch.rows[0]!.title).not.toBe('MAIN ONLY');
  });
});
