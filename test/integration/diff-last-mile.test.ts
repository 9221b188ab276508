import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { caseProblems, type CorpusCase, culprits } from '../helpers/schema-corpus.js';

/**
 * Issue 29, the last mile of the schema diff: one group of round-trip cases per class of failure
 * seen on outside migration corpora. Each case, both ways unless it says why not: the migration
 * applied to a copy of `a` must apply, leave ayb's own diff empty, and make the sorted
 * `pg_dump --schema-only` of the copy equal to that of `b`.
 */

const c = (name: string, setup: string, change: string, extra: Partial<CorpusCase> = {}): CorpusCase => ({ name, setup, change, ...extra });

const RANGE_M = "CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');";

const GROUPS: Record<string, CorpusCase[]> = {
  // 1. Drops ordered by pg_depend, dependents first, whatever the kinds.
  drops: [
    c('enum dropped with the table that uses it', "CREATE TYPE mood AS ENUM ('a'); CREATE TABLE t (id int, m mood);", 'DROP TABLE t; DROP TYPE mood'),
    c('enum dropped, its column retyped to text', "CREATE TYPE mood AS ENUM ('a'); CREATE TABLE t (id int, m mood);", 'ALTER TABLE t ALTER m TYPE text; DROP TYPE mood'),
    c('enum dropped, its column dropped', "CREATE TYPE mood AS ENUM ('a'); CREATE TABLE t (id int, m mood);", 'ALTER TABLE t DROP COLUMN m; DROP TYPE mood'),
    c('enum dropped under a partitioned table', "CREATE TYPE mood AS ENUM ('a'); CREATE TABLE p (id int, m mood) PARTITION BY LIST (m); CREATE TABLE p_a PARTITION OF p FOR VALUES IN ('a');", 'DROP TABLE p; DROP TYPE mood'),
    c('domain dropped, its column retyped', 'CREATE DOMAIN pos AS int CHECK (VALUE > 0); CREATE TABLE t (id int, n pos);', 'ALTER TABLE t ALTER n TYPE bigint; DROP DOMAIN pos'),
    c('collation dropped, its column recollated', "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); CREATE TABLE t (id int, name text COLLATE ci);",
      'ALTER TABLE t ALTER name TYPE text COLLATE "C"; DROP COLLATION ci'),
    c('collation dropped with its table', "CREATE COLLATION de (provider = icu, locale = 'de-DE'); CREATE TABLE t (id int, name text COLLATE de);", 'DROP TABLE t; DROP COLLATION de'),
    c('table referenced by a partitioned table dropped with it', "CREATE TABLE r (id int PRIMARY KEY); CREATE TABLE p (id int, r int REFERENCES r, at date) PARTITION BY RANGE (at); CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      'DROP TABLE p; DROP TABLE r'),
    c('table referenced by a partitioned table: its foreign key dropped', "CREATE TABLE r (id int PRIMARY KEY); CREATE TABLE p (id int, r int CONSTRAINT p_r_fk REFERENCES r, at date) PARTITION BY RANGE (at); CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      'ALTER TABLE p DROP CONSTRAINT p_r_fk; DROP TABLE r'),
    c('function dropped, a default that called it changed', 'CREATE FUNCTION seven() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 7 $$; CREATE TABLE t (id int, n int DEFAULT seven());',
      'ALTER TABLE t ALTER n SET DEFAULT 8; DROP FUNCTION seven()'),
    c('function dropped, a check that called it dropped', 'CREATE FUNCTION ok(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 > 0 $$; CREATE TABLE t (id int, n int CONSTRAINT t_n_ok CHECK (ok(n)));',
      'ALTER TABLE t DROP CONSTRAINT t_n_ok; DROP FUNCTION ok(int)'),
    c('sequence dropped, the default that used it replaced', 'CREATE SEQUENCE s; CREATE TABLE t (id int DEFAULT nextval(\'s\'));', 'ALTER TABLE t ALTER id SET DEFAULT 0; DROP SEQUENCE s'),
    c('composite type dropped, its column retyped', 'CREATE TYPE pair AS (k int, v text); CREATE TABLE t (id int, p pair);', 'ALTER TABLE t ALTER p TYPE text; DROP TYPE pair'),
    c('table dropped with a comment on a column a generated column reads', "CREATE TABLE p (a int, b int GENERATED ALWAYS AS (a * 2) STORED); COMMENT ON COLUMN p.a IS 'the base'; CREATE TABLE c () INHERITS (p);",
      'DROP TABLE c; DROP TABLE p'),
    c('schema dropped with a type used elsewhere', "CREATE SCHEMA c_other_s; CREATE TYPE c_other_s.kind AS ENUM ('x'); CREATE TABLE t (id int, k c_other_s.kind);",
      'ALTER TABLE t DROP COLUMN k; DROP SCHEMA c_other_s CASCADE', { global: true }),
  ],
  // 2. REPLICA IDENTITY.
  replica: [
    c('replica identity full', 'CREATE TABLE t (id int PRIMARY KEY, v text);', 'ALTER TABLE t REPLICA IDENTITY FULL'),
    c('replica identity nothing', 'CREATE TABLE t (id int PRIMARY KEY, v text);', 'ALTER TABLE t REPLICA IDENTITY NOTHING'),
    c('replica identity using a unique index', 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); CREATE UNIQUE INDEX t_v_key ON t (v);', 'ALTER TABLE t REPLICA IDENTITY USING INDEX t_v_key'),
    c('replica identity using an index created with it', 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);', 'CREATE UNIQUE INDEX t_v_key ON t (v); ALTER TABLE t REPLICA IDENTITY USING INDEX t_v_key'),
    c('new table with replica identity full', 'SELECT 1;', 'CREATE TABLE t (id int, v text); ALTER TABLE t REPLICA IDENTITY FULL'),
    c('replica identity using a unique constraint index', 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL CONSTRAINT t_v_uniq UNIQUE);', 'ALTER TABLE t REPLICA IDENTITY USING INDEX t_v_uniq'),
  ],
  // 3. Partitions.
  partitions: [
    c('partition index attached to a new parent index under its own name', `${RANGE_M} CREATE INDEX m_1_at_custom ON m_1 (at);`, 'CREATE INDEX m_at_idx ON m (at)'),
    c('partition index attached by hand', `${RANGE_M} CREATE INDEX m_1_at_mine ON m_1 (at);`, 'CREATE INDEX m_at_idx ON ONLY m (at); ALTER INDEX m_at_idx ATTACH PARTITION m_1_at_mine'),
    c('partition index left unattached', `${RANGE_M}`, 'CREATE INDEX m_at_idx ON ONLY m (at); CREATE INDEX m_1_at_loose ON m_1 (at)'),
    c('partition unique index backs the parent key', "CREATE TABLE m (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE UNIQUE INDEX m_1_key ON m_1 (id, at);",
      'ALTER TABLE m ADD CONSTRAINT m_pkey PRIMARY KEY (id, at)'),
    c('parent primary key dropped', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      'DROP TABLE m; CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM (\'2020-01-01\') TO (\'2021-01-01\')'),
    c('NOT NULL set on a partition only', RANGE_M, 'ALTER TABLE m_1 ALTER id SET NOT NULL'),
    c('default set on a partition only', RANGE_M, 'ALTER TABLE m_1 ALTER id SET DEFAULT 5'),
    c('partition detached and left as a table', RANGE_M, 'ALTER TABLE m DETACH PARTITION m_1; ALTER TABLE m_1 ADD COLUMN note text'),
    c('table never attached', 'CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 (id int NOT NULL, at date);', "ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
    c('partitioned table turned into a plain table', RANGE_M, 'DROP TABLE m; CREATE TABLE m (id int, at date)'),
    c('partitioned table with local keys replaced', "CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m (PRIMARY KEY (id)) FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      "DROP TABLE m; CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
    c('base table re-created with its partitions', `${RANGE_M} CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');`,
      "DROP TABLE m; CREATE TABLE m (id int, at date) PARTITION BY LIST (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES IN ('2020-01-01'); CREATE TABLE m_2 PARTITION OF m FOR VALUES IN ('2021-01-01')"),
    c('partitioned table referenced by foreign keys dropped', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE r (id int, at date, FOREIGN KEY (id, at) REFERENCES m);",
      'DROP TABLE r; DROP TABLE m'),
    c('partitioned table referenced by a kept table re-created', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE r (id int, at date, CONSTRAINT r_m_fk FOREIGN KEY (id, at) REFERENCES m);",
      "ALTER TABLE r DROP CONSTRAINT r_m_fk; DROP TABLE m; CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY LIST (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES IN ('2020-01-01'); ALTER TABLE r ADD CONSTRAINT r_m_fk FOREIGN KEY (id, at) REFERENCES m"),
    c('partition added under an existing parent index', `${RANGE_M} CREATE INDEX m_at_idx ON m (at);`, "CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')"),
    c('partition added under an existing parent index, its index renamed', `${RANGE_M} CREATE INDEX m_at_idx ON m (at);`,
      "CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01'); ALTER INDEX m_2_at_idx RENAME TO m_2_by_day"),
    c('attached partition index renamed', `${RANGE_M} CREATE INDEX m_at_idx ON m (at);`, 'ALTER INDEX m_1_at_idx RENAME TO m_1_by_day'),
    c('index created on a sub-partitioned table', "CREATE TABLE m (id int, at date, k text) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01') PARTITION BY LIST (k); CREATE TABLE m_1a PARTITION OF m_1 FOR VALUES IN ('a');",
      'CREATE INDEX m_k_idx ON m (k, id)'),
    c('table with an index attached as a partition under an index', "CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); CREATE INDEX m_at_idx ON m (at); CREATE TABLE m_1 (id int, at date); CREATE INDEX m_1_own ON m_1 (at);",
      "ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
    c('partition index dropped with its parent index', `${RANGE_M} CREATE INDEX m_at_idx ON m (at);`, 'DROP INDEX m_at_idx'),
    c('partitioned table dropped with a table whose foreign key references it (named first)', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE a_ref (id int, at date, FOREIGN KEY (id, at) REFERENCES m);",
      'DROP TABLE a_ref; DROP TABLE m'),
    c('partitioned table re-created under a foreign key of a table named first', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE a_ref (id int, at date, CONSTRAINT a_ref_m_fk FOREIGN KEY (id, at) REFERENCES m);",
      "ALTER TABLE a_ref DROP CONSTRAINT a_ref_m_fk; DROP TABLE m; CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY LIST (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES IN ('2020-01-01'); ALTER TABLE a_ref ADD CONSTRAINT a_ref_m_fk FOREIGN KEY (id, at) REFERENCES m"),
    c('enum value removed under a partition key', "CREATE TYPE r AS ENUM ('a', 'b', 'c'); CREATE TABLE o (id int, r r) PARTITION BY LIST (r); CREATE TABLE o_a PARTITION OF o FOR VALUES IN ('a'); CREATE TABLE o_rest PARTITION OF o DEFAULT;",
      "DROP TABLE o; DROP TYPE r; CREATE TYPE r AS ENUM ('a', 'b'); CREATE TABLE o (id int, r r) PARTITION BY LIST (r); CREATE TABLE o_a PARTITION OF o FOR VALUES IN ('a'); CREATE TABLE o_rest PARTITION OF o DEFAULT"),
    c('plain table turned into a partition of a new parent', 'CREATE TABLE m_1 (id int, at date);', "CREATE TABLE m (id int, at date) PARTITION BY RANGE (at); ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
  ],
  // 4. Inheritance.
  inheritance: [
    c('inheritance parent dropped, child kept', 'CREATE TABLE parent (at timestamptz, v int); CREATE TABLE child (msg text) INHERITS (parent);', 'ALTER TABLE child NO INHERIT parent; DROP TABLE parent', {
      oneWay: 'the way back (INHERIT) leaves the columns declared locally as well as inherited (attislocal), which no ALTER can undo',
    }),
    c('inheritance child with a NOT NULL of its own', 'CREATE TABLE parent (at timestamptz, v int); CREATE TABLE child (msg text) INHERITS (parent);', 'ALTER TABLE child ALTER v SET NOT NULL'),
    c('inheritance child with a default of its own', 'CREATE TABLE parent (at timestamptz, v int); CREATE TABLE child (msg text) INHERITS (parent);', 'ALTER TABLE child ALTER v SET DEFAULT 3'),
    c('inheritance parent column retyped', 'CREATE TABLE parent (at timestamptz, v int); CREATE TABLE child (msg text) INHERITS (parent);', 'ALTER TABLE parent ALTER v TYPE bigint'),
    c('inheritance parent column dropped', 'CREATE TABLE parent (at timestamptz, v int); CREATE TABLE child (msg text) INHERITS (parent);', 'ALTER TABLE parent DROP COLUMN v'),
    c('inheritance child moved to another parent', 'CREATE TABLE p1 (a int); CREATE TABLE p2 (a int); CREATE TABLE child (c int) INHERITS (p1);', 'ALTER TABLE child NO INHERIT p1; ALTER TABLE child INHERIT p2', {
      oneWay: 'the way back leaves child.a declared locally as well as inherited (attislocal), which no ALTER can undo',
    }),
    c('inheritance parent rebuilt as partitioned', 'CREATE TABLE parent (id int, at date); CREATE TABLE child (msg text) INHERITS (parent);', 'DROP TABLE parent CASCADE; CREATE TABLE parent (id int, at date) PARTITION BY RANGE (at)'),
  ],
};

describe('branch diff, issue 29 classes: migration applies, diff empty, pg_dump equal', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('lastmile_template');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  let offset = 0;
  for (const [group, list] of Object.entries(GROUPS)) {
    const cases = list.map((x, i) => [offset + i, x] as const);
    offset += list.length;
    it.concurrent(`${group}: ${list.length} cases`, async () => {
      const problems = await caseProblems(cluster, 'lastmile_template', `lm_${group}`, cases);
      expect(problems, `cases concerned: ${culprits(problems, cases).join('; ')}`).toEqual([]);
    }, 300_000);
  }
});
