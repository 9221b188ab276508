import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { caseProblems, type CorpusCase, culprits } from '../helpers/schema-corpus.js';
import { execSql } from '../helpers/schema-diff.js';

/**
 * Outside migration cases, written the way application projects write their migrations (renames,
 * enum swaps, domains, views on views, functions under defaults and indexes, partitions several
 * levels deep, collations, extensions, sequences, inheritance, statistics, rules …). Each case,
 * both ways unless it says why not: the migration applied to a copy of `a` must apply, leave ayb's
 * own diff empty, and make the sorted `pg_dump --schema-only` of the copy equal to that of `b`.
 *
 * ATTACK_EACH=1 runs every case on its own pair of databases (slow; a summary goes to
 * $ATTACK_OUT or /tmp/attack-results.json), which is how the failures were counted.
 */

/** `known`: a case that still fails, and why (run with ATTACK_EACH=1, left out of the batches). */
type AttackCase = CorpusCase & { readonly known?: string };
const c = (name: string, setup: string, change: string, extra: Partial<AttackCase> & { options?: object } = {}): AttackCase => ({ name, setup, change, ...extra });

const T = 'CREATE TABLE t (id int PRIMARY KEY, s varchar(20), n numeric(10,2), body text);';
const MOOD = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');";
const TRIG = 'CREATE FUNCTION tg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;';
const RANGE_M = "CREATE TABLE m (id int, at date, v text) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');";

const GROUPS: Record<string, AttackCase[]> = {
  renames: [
    c('table renamed with its serial sequence and key index', 'CREATE TABLE t (id serial PRIMARY KEY, s text);',
      'ALTER TABLE t RENAME TO u; ALTER SEQUENCE t_id_seq RENAME TO u_id_seq; ALTER INDEX t_pkey RENAME TO u_pkey'),
    c('columns renamed under an index and a foreign key', 'CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, p_id int REFERENCES p, s text); CREATE INDEX t_s ON t (s);',
      'ALTER TABLE t RENAME COLUMN s TO label; ALTER TABLE t RENAME COLUMN p_id TO parent_id'),
    c('column renamed under a view', `${T} CREATE VIEW v AS SELECT id, s FROM t;`, 'ALTER TABLE t RENAME COLUMN s TO label'),
    c('table renamed under a view', `${T} CREATE VIEW v AS SELECT id, s FROM t;`, 'ALTER TABLE t RENAME TO t2'),
    c('trigger and policy renamed', `${T} ${TRIG} CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg(); CREATE POLICY p ON t USING (id > 0);`,
      'ALTER TRIGGER tr ON t RENAME TO tr_new; ALTER POLICY p ON t RENAME TO p_new'),
    c('trigger function renamed', `${T} ${TRIG} CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg();`, 'ALTER FUNCTION tg() RENAME TO tg2'),
    c('enum type renamed under a column', `${MOOD} CREATE TABLE t (id int, m mood DEFAULT 'ok');`, 'ALTER TYPE mood RENAME TO feeling'),
    c('schema renamed', 'CREATE SCHEMA c_ren_old; CREATE TABLE c_ren_old.x (id int); CREATE TABLE r (id int, x int);', 'ALTER SCHEMA c_ren_old RENAME TO c_ren_new', { global: true }),
    c('table moved to another schema', 'CREATE SCHEMA c_mv_s; CREATE TABLE t (id int PRIMARY KEY);', 'ALTER TABLE t SET SCHEMA c_mv_s', { global: true }),
    c('unique constraint renamed', 'CREATE TABLE t (id int, e text CONSTRAINT t_e_key UNIQUE);', 'ALTER TABLE t RENAME CONSTRAINT t_e_key TO t_email_unique'),
    c('view column renamed', `${T} CREATE VIEW v AS SELECT id, s FROM t;`, 'ALTER VIEW v RENAME COLUMN s TO label'),
  ],
  enums: [
    c('enum value added and used as a default', `${MOOD} CREATE TABLE t (id int, m mood);`, "ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad'; COMMIT; ALTER TABLE t ALTER m SET DEFAULT 'meh'"),
    c('enum value added and used in a check', `${MOOD} CREATE TABLE t (id int, m mood);`, "ALTER TYPE mood ADD VALUE 'meh'; COMMIT; ALTER TABLE t ADD CONSTRAINT t_m_check CHECK (m <> 'meh')"),
    c('enum value renamed under a partial index', `${MOOD} CREATE TABLE t (id int, m mood); CREATE INDEX t_ok ON t (id) WHERE m = 'ok';`, "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'"),
    c('enum value dropped by a type swap under a view, an index, a default and a check',
      `${MOOD} CREATE TABLE t (id int, m mood DEFAULT 'ok' CONSTRAINT t_m_check CHECK (m <> 'sad')); CREATE INDEX t_m ON t (m); CREATE VIEW v AS SELECT id, m FROM t;`,
      "CREATE TYPE mood_new AS ENUM ('ok', 'happy'); DROP VIEW v; ALTER TABLE t DROP CONSTRAINT t_m_check; ALTER TABLE t ALTER m DROP DEFAULT; ALTER TABLE t ALTER m TYPE mood_new USING m::text::mood_new; DROP TYPE mood; ALTER TYPE mood_new RENAME TO mood; ALTER TABLE t ALTER m SET DEFAULT 'ok'; CREATE VIEW v AS SELECT id, m FROM t"),
    c('enum value dropped, the enum used by a function argument', `${MOOD} CREATE FUNCTION score(mood) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$;`,
      "DROP FUNCTION score(mood); DROP TYPE mood; CREATE TYPE mood AS ENUM ('ok', 'happy'); CREATE FUNCTION score(mood) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$"),
    c('enum value dropped, the enum in a composite and a domain', `${MOOD} CREATE TYPE pair AS (m mood, n int); CREATE DOMAIN dm AS mood; CREATE TABLE t (id int, p pair, d dm);`,
      "DROP TABLE t; DROP DOMAIN dm; DROP TYPE pair; DROP TYPE mood; CREATE TYPE mood AS ENUM ('ok', 'happy'); CREATE TYPE pair AS (m mood, n int); CREATE DOMAIN dm AS mood; CREATE TABLE t (id int, p pair, d dm)"),
    c('enum value dropped under an enum array with a default', `${MOOD} CREATE TABLE t (id int, ms mood[] DEFAULT '{ok}');`,
      "ALTER TABLE t ALTER ms DROP DEFAULT; ALTER TABLE t ALTER ms TYPE text[]; DROP TYPE mood; CREATE TYPE mood AS ENUM ('ok', 'happy'); ALTER TABLE t ALTER ms TYPE mood[] USING ms::mood[]; ALTER TABLE t ALTER ms SET DEFAULT '{ok}'"),
    c('enum value dropped under a generated column', `${MOOD} CREATE TABLE t (id int, m mood, happy boolean GENERATED ALWAYS AS (m = 'happy') STORED);`,
      "DROP TABLE t; DROP TYPE mood; CREATE TYPE mood AS ENUM ('ok', 'happy'); CREATE TABLE t (id int, m mood, happy boolean GENERATED ALWAYS AS (m = 'happy') STORED)"),
  ],
  domains: [
    c('domain check replaced under a column', "CREATE DOMAIN email AS text CONSTRAINT email_check CHECK (VALUE LIKE '%@%'); CREATE TABLE t (id int, e email);",
      "ALTER DOMAIN email DROP CONSTRAINT email_check; ALTER DOMAIN email ADD CONSTRAINT email_format CHECK (VALUE ~ '^[^@]+@[^@]+$')"),
    c('domain check added NOT VALID', 'CREATE DOMAIN pos AS int; CREATE TABLE t (id int, n pos);', 'ALTER DOMAIN pos ADD CONSTRAINT pos_check CHECK (VALUE > 0) NOT VALID'),
    c('domain over a domain, inner base type widened', 'CREATE DOMAIN code AS varchar(5); CREATE DOMAIN upcode AS code CHECK (VALUE = upper(VALUE)); CREATE TABLE t (id int, c upcode);',
      'DROP TABLE t; DROP DOMAIN upcode; DROP DOMAIN code; CREATE DOMAIN code AS varchar(10); CREATE DOMAIN upcode AS code CHECK (VALUE = upper(VALUE)); CREATE TABLE t (id int, c upcode)'),
    c('domain default changed under a column', "CREATE DOMAIN status AS text DEFAULT 'new'; CREATE TABLE t (id int, s status);", "ALTER DOMAIN status SET DEFAULT 'open'"),
    c('domain base type widened under a view', 'CREATE DOMAIN code AS varchar(5); CREATE TABLE t (id int, c code); CREATE VIEW v AS SELECT id, c FROM t;',
      'DROP VIEW v; ALTER TABLE t ALTER c TYPE text; DROP DOMAIN code; CREATE DOMAIN code AS varchar(10); ALTER TABLE t ALTER c TYPE code; CREATE VIEW v AS SELECT id, c FROM t'),
    c('domain base type changed under a function argument', 'CREATE DOMAIN code AS varchar(5); CREATE FUNCTION norm(code) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper($1) $$;',
      'DROP FUNCTION norm(code); DROP DOMAIN code; CREATE DOMAIN code AS varchar(10); CREATE FUNCTION norm(code) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper($1) $$'),
    c('domain NOT NULL dropped, check using a function added', 'CREATE FUNCTION ok(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 > 0 $$; CREATE DOMAIN pos AS int NOT NULL;',
      'ALTER DOMAIN pos DROP NOT NULL; ALTER DOMAIN pos ADD CONSTRAINT pos_ok CHECK (ok(VALUE))'),
  ],
  views: [
    c('view on view on a retyped column', `${T} CREATE VIEW v1 AS SELECT id, n FROM t; CREATE VIEW v2 AS SELECT id, n * 2 AS n2 FROM v1;`,
      'DROP VIEW v2; DROP VIEW v1; ALTER TABLE t ALTER n TYPE numeric(14,4); CREATE VIEW v1 AS SELECT id, n FROM t; CREATE VIEW v2 AS SELECT id, n * 2 AS n2 FROM v1'),
    c('view on a view on a dropped column', `${T} CREATE VIEW v1 AS SELECT id, s, body FROM t; CREATE VIEW v2 AS SELECT id, s FROM v1;`,
      'DROP VIEW v2; DROP VIEW v1; ALTER TABLE t DROP COLUMN body; CREATE VIEW v1 AS SELECT id, s FROM t; CREATE VIEW v2 AS SELECT id, s FROM v1'),
    c('view column default', `${T} CREATE VIEW v AS SELECT id, s FROM t;`, "ALTER VIEW v ALTER COLUMN s SET DEFAULT 'x'"),
    c('view security_invoker set', `${T} CREATE VIEW v AS SELECT id FROM t;`, 'ALTER VIEW v SET (security_invoker = true)'),
    c('view with an INSTEAD OF trigger', `${T} CREATE VIEW v AS SELECT id, s FROM t; CREATE FUNCTION vins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t (id, s) VALUES (NEW.id, NEW.s); RETURN NEW; END $$;`,
      'CREATE TRIGGER v_ins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION vins()'),
    c('view with an INSTEAD OF trigger, column retyped under it', `${T} CREATE VIEW v AS SELECT id, s FROM t; ${TRIG} CREATE TRIGGER v_ins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION tg();`,
      'DROP VIEW v; ALTER TABLE t ALTER s TYPE text; CREATE VIEW v AS SELECT id, s FROM t; CREATE TRIGGER v_ins INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION tg()'),
    c('materialized view with indexes on a retyped column', `${T} CREATE MATERIALIZED VIEW mv AS SELECT s, count(*) AS k FROM t GROUP BY s; CREATE UNIQUE INDEX mv_s ON mv (s); CREATE INDEX mv_k ON mv (k);`,
      'DROP MATERIALIZED VIEW mv; ALTER TABLE t ALTER s TYPE text; CREATE MATERIALIZED VIEW mv AS SELECT s, count(*) AS k FROM t GROUP BY s; CREATE UNIQUE INDEX mv_s ON mv (s); CREATE INDEX mv_k ON mv (k)'),
    c('materialized view on a view, index added', `${T} CREATE VIEW v AS SELECT id, s FROM t; CREATE MATERIALIZED VIEW mv AS SELECT * FROM v;`, 'CREATE INDEX mv_s ON mv (s)'),
    c('view using a materialized view, the matview redefined', `${T} CREATE MATERIALIZED VIEW mv AS SELECT id, s FROM t; CREATE VIEW v AS SELECT id FROM mv;`,
      'DROP VIEW v; DROP MATERIALIZED VIEW mv; CREATE MATERIALIZED VIEW mv AS SELECT id, s, n FROM t; CREATE VIEW v AS SELECT id FROM mv'),
    c('materialized view clustered on its index', `${T} CREATE MATERIALIZED VIEW mv AS SELECT id, s FROM t; CREATE UNIQUE INDEX mv_id ON mv (id);`, 'ALTER MATERIALIZED VIEW mv CLUSTER ON mv_id'),
    c('rule on a table', `${T} CREATE TABLE log (id int);`, 'CREATE RULE t_log AS ON INSERT TO t DO ALSO INSERT INTO log VALUES (NEW.id)'),
    c('view over a table whose column is widened in place (varchar length)', `${T} CREATE VIEW v AS SELECT id, s FROM t WHERE s <> '';`,
      'DROP VIEW v; ALTER TABLE t ALTER s TYPE varchar(200); CREATE VIEW v AS SELECT id, s FROM t WHERE s <> \'\''),
  ],
  functions: [
    c('function in a default gets a parameter', 'CREATE FUNCTION nextcode() RETURNS text LANGUAGE sql AS $$ SELECT \'a\' $$; CREATE TABLE t (id int, code text DEFAULT nextcode());',
      "ALTER TABLE t ALTER code DROP DEFAULT; DROP FUNCTION nextcode(); CREATE FUNCTION nextcode(prefix text DEFAULT 'x') RETURNS text LANGUAGE sql AS $$ SELECT prefix $$; ALTER TABLE t ALTER code SET DEFAULT nextcode()"),
    c('function in a check changes its argument type', 'CREATE FUNCTION ok(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 > 0 $$; CREATE TABLE t (id int, n int CONSTRAINT t_n_ok CHECK (ok(n)));',
      'ALTER TABLE t DROP CONSTRAINT t_n_ok; DROP FUNCTION ok(int); CREATE FUNCTION ok(bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 > 0 $$; ALTER TABLE t ADD CONSTRAINT t_n_ok CHECK (ok(n))'),
    c('function in an expression index changes its return type', 'CREATE FUNCTION norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) $$; CREATE TABLE t (id int, s text); CREATE INDEX t_norm ON t (norm(s));',
      'DROP INDEX t_norm; DROP FUNCTION norm(text); CREATE FUNCTION norm(text) RETURNS varchar LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) $$; CREATE INDEX t_norm ON t (norm(s))'),
    c('function in a generated column changes its body and signature', 'CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$; CREATE TABLE t (id int, n int, d int GENERATED ALWAYS AS (twice(n)) STORED);',
      'ALTER TABLE t DROP COLUMN d; DROP FUNCTION twice(int); CREATE FUNCTION twice(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$; ALTER TABLE t ADD COLUMN d bigint GENERATED ALWAYS AS (twice(n)) STORED'),
    c('function in a generated column, body changed in place', 'CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$; CREATE TABLE t (id int, n int, d int GENERATED ALWAYS AS (twice(n)) STORED);',
      'CREATE OR REPLACE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + $1 $$'),
    c('function under a view changes its return type', `${T} CREATE FUNCTION label(t) RETURNS text LANGUAGE sql STABLE AS $$ SELECT $1.s $$; CREATE VIEW v AS SELECT id, label(t) AS l FROM t;`,
      'DROP VIEW v; DROP FUNCTION label(t); CREATE FUNCTION label(t) RETURNS varchar LANGUAGE sql STABLE AS $$ SELECT $1.s $$; CREATE VIEW v AS SELECT id, label(t) AS l FROM t'),
    c('function argument renamed', 'CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;', 'DROP FUNCTION f(int); CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT x $$'),
    c('function argument default removed', 'CREATE FUNCTION f(a int DEFAULT 1) RETURNS int LANGUAGE sql AS $$ SELECT a $$;', 'DROP FUNCTION f(int); CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$'),
    c('function OUT parameters changed', 'CREATE FUNCTION two(OUT a int, OUT b int) LANGUAGE sql AS $$ SELECT 1, 2 $$;', 'DROP FUNCTION two(); CREATE FUNCTION two(OUT a int, OUT b text) LANGUAGE sql AS $$ SELECT 1, \'2\' $$'),
    c('function language changed from sql to plpgsql', 'CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 $$;', 'CREATE OR REPLACE FUNCTION f(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN $1; END $$'),
    c('function in a policy changes signature', `${T} ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE FUNCTION ok(int) RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT $1 > 0 $$; CREATE POLICY p ON t USING (ok(id));`,
      'DROP POLICY p ON t; DROP FUNCTION ok(int); CREATE FUNCTION ok(bigint) RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT $1 > 0 $$; CREATE POLICY p ON t USING (ok(id))'),
    c('SQL-standard function body depending on a retyped column', `${T} CREATE FUNCTION total() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT sum(n) FROM t; END;`,
      'DROP FUNCTION total(); ALTER TABLE t ALTER n TYPE numeric(14,2); CREATE FUNCTION total() RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT sum(n) FROM t; END'),
    c('trigger function gains a WHEN on a new column', `${T} ${TRIG} CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION tg();`,
      'ALTER TABLE t ADD COLUMN flag boolean; DROP TRIGGER tr ON t; CREATE TRIGGER tr BEFORE UPDATE OF flag ON t FOR EACH ROW WHEN (NEW.flag IS DISTINCT FROM OLD.flag) EXECUTE FUNCTION tg()'),
    c('function set search_path and leakproof', 'CREATE FUNCTION f(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;', 'ALTER FUNCTION f(int) SET search_path = pg_catalog, pg_temp LEAKPROOF COST 5'),
  ],
  partitions: [
    c('trigger on a partitioned table, partition added', `${RANGE_M} ${TRIG} CREATE TRIGGER tr BEFORE INSERT ON m FOR EACH ROW EXECUTE FUNCTION tg();`,
      "CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')"),
    c('trigger on a partitioned table created', `${RANGE_M} ${TRIG}`, 'CREATE TRIGGER tr BEFORE INSERT ON m FOR EACH ROW EXECUTE FUNCTION tg()'),
    c('trigger on a partitioned table dropped', `${RANGE_M} ${TRIG} CREATE TRIGGER tr BEFORE INSERT ON m FOR EACH ROW EXECUTE FUNCTION tg();`, 'DROP TRIGGER tr ON m'),
    c('trigger on one partition only', `${RANGE_M} ${TRIG}`, 'CREATE TRIGGER tr1 AFTER UPDATE ON m_1 FOR EACH ROW EXECUTE FUNCTION tg()'),
    c('policy and RLS on a partition', RANGE_M, 'ALTER TABLE m_1 ENABLE ROW LEVEL SECURITY; CREATE POLICY p1 ON m_1 USING (id > 0)'),
    c('policy on a partitioned table', RANGE_M, 'ALTER TABLE m ENABLE ROW LEVEL SECURITY; CREATE POLICY pm ON m FOR SELECT USING (v IS NOT NULL)'),
    c('multi-level partitions with default partitions', 'SELECT 1;',
      "CREATE TABLE ev (id int, at date, kind text) PARTITION BY RANGE (at); CREATE TABLE ev_2020 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2021-01-01') PARTITION BY LIST (kind); CREATE TABLE ev_2020_a PARTITION OF ev_2020 FOR VALUES IN ('a'); CREATE TABLE ev_2020_rest PARTITION OF ev_2020 DEFAULT; CREATE TABLE ev_rest PARTITION OF ev DEFAULT PARTITION BY LIST (kind); CREATE TABLE ev_rest_all PARTITION OF ev_rest DEFAULT"),
    c('sub-partition added beside a default partition', "CREATE TABLE ev (id int, at date, kind text) PARTITION BY RANGE (at); CREATE TABLE ev_2020 PARTITION OF ev FOR VALUES FROM ('2020-01-01') TO ('2021-01-01') PARTITION BY LIST (kind); CREATE TABLE ev_2020_a PARTITION OF ev_2020 FOR VALUES IN ('a'); CREATE TABLE ev_2020_rest PARTITION OF ev_2020 DEFAULT;",
      "CREATE TABLE ev_2020_b PARTITION OF ev_2020 FOR VALUES IN ('b')"),
    c('partition bound changed', RANGE_M, "ALTER TABLE m DETACH PARTITION m_1; ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2019-01-01') TO ('2021-01-01')"),
    c('partition bound changed under a parent index and key', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE INDEX m_at ON m (at);",
      "ALTER TABLE m DETACH PARTITION m_1; ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2019-01-01') TO ('2021-01-01')"),
    c('default partition added', RANGE_M, 'CREATE TABLE m_rest PARTITION OF m DEFAULT'),
    c('table with another column order attached', "CREATE TABLE m (id int, at date, v text) PARTITION BY RANGE (at); CREATE TABLE m_1 (v text, at date, id int);",
      "ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
    c('foreign key between two partitioned tables', "CREATE TABLE a (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE a_1 PARTITION OF a FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE b (id int, a_id int, at date) PARTITION BY RANGE (at); CREATE TABLE b_1 PARTITION OF b FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      'ALTER TABLE b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id, at) REFERENCES a ON DELETE CASCADE'),
    c('check constraint on a partitioned parent', RANGE_M, 'ALTER TABLE m ADD CONSTRAINT m_id_check CHECK (id > 0)'),
    c('unique key on a two-level partitioned table', "CREATE TABLE m (id int, at date, k text) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01') PARTITION BY LIST (k); CREATE TABLE m_1a PARTITION OF m_1 FOR VALUES IN ('a');",
      'ALTER TABLE m ADD CONSTRAINT m_key UNIQUE (id, at, k)'),
    c('hash partitions re-split', 'CREATE TABLE h (id int) PARTITION BY HASH (id); CREATE TABLE h0 PARTITION OF h FOR VALUES WITH (MODULUS 2, REMAINDER 0); CREATE TABLE h1 PARTITION OF h FOR VALUES WITH (MODULUS 2, REMAINDER 1);',
      'DROP TABLE h1; CREATE TABLE h1 PARTITION OF h FOR VALUES WITH (MODULUS 4, REMAINDER 1); CREATE TABLE h3 PARTITION OF h FOR VALUES WITH (MODULUS 4, REMAINDER 3)'),
    c('column with a default added to a partitioned table', RANGE_M, "ALTER TABLE m ADD COLUMN status text NOT NULL DEFAULT 'new'"),
    c('column retyped on a partitioned table', RANGE_M, 'ALTER TABLE m ALTER v TYPE varchar(30)'),
    c('partition in another schema', 'CREATE SCHEMA c_part_s; CREATE TABLE m (id int, at date) PARTITION BY RANGE (at);',
      "CREATE TABLE c_part_s.m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')", { global: true }),
    c('identity column on a partitioned table', 'SELECT 1;', "CREATE TABLE m (id int GENERATED BY DEFAULT AS IDENTITY, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"),
    c('owner of a partition and grants on the parent', RANGE_M, 'ALTER TABLE m_1 OWNER TO attack_owner; GRANT SELECT ON m TO attack_reader', { options: { owners: true, privileges: true } }),
    c('partition constraint trigger on parent deferrable foreign key', "CREATE TABLE r (id int PRIMARY KEY); CREATE TABLE m (id int, r_id int, at date) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
      'ALTER TABLE m ADD CONSTRAINT m_r_fk FOREIGN KEY (r_id) REFERENCES r DEFERRABLE INITIALLY DEFERRED'),
  ],
  constraints: [
    c('exclusion constraint widened with btree_gist', 'CREATE TABLE r (room int, during tsrange, CONSTRAINT r_excl EXCLUDE USING gist (during WITH &&));',
      'ALTER TABLE r DROP CONSTRAINT r_excl; ALTER TABLE r ADD CONSTRAINT r_excl EXCLUDE USING gist (room WITH =, during WITH &&)'),
    c('deferrable exclusion constraint', 'CREATE TABLE r (room int, during tsrange);', 'ALTER TABLE r ADD CONSTRAINT r_excl EXCLUDE USING gist (room WITH =, during WITH &&) DEFERRABLE INITIALLY DEFERRED'),
    c('foreign key made deferrable in place', 'CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (p_id int CONSTRAINT t_p_fk REFERENCES p);', 'ALTER TABLE t ALTER CONSTRAINT t_p_fk DEFERRABLE INITIALLY IMMEDIATE'),
    c('foreign key actions changed', 'CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (p_id int CONSTRAINT t_p_fk REFERENCES p);',
      'ALTER TABLE t DROP CONSTRAINT t_p_fk; ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p ON UPDATE CASCADE ON DELETE SET NULL'),
    c('primary key moved to another column with a referencing key', 'CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL); CREATE TABLE t (p_id int CONSTRAINT t_p_fk REFERENCES p);',
      'ALTER TABLE t DROP CONSTRAINT t_p_fk; ALTER TABLE p DROP CONSTRAINT p_pkey; ALTER TABLE p ADD PRIMARY KEY (code); ALTER TABLE p ADD CONSTRAINT p_id_key UNIQUE (id); ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id)'),
    c('check constraint validated', 'CREATE TABLE t (n int); ALTER TABLE t ADD CONSTRAINT t_n_check CHECK (n > 0) NOT VALID;', 'ALTER TABLE t VALIDATE CONSTRAINT t_n_check'),
    c('index clustered and index column statistics', `${T} CREATE INDEX t_s ON t (s); CREATE INDEX t_expr ON t (lower(s));`, 'ALTER TABLE t CLUSTER ON t_s; ALTER INDEX t_expr ALTER COLUMN 1 SET STATISTICS 300'),
    c('unique index turned into a constraint', 'CREATE TABLE t (id int, e text); CREATE UNIQUE INDEX t_e_key ON t (e);', 'ALTER TABLE t ADD CONSTRAINT t_e_key UNIQUE USING INDEX t_e_key'),
  ],
  collations: [
    c('ICU collation under an index only, redefined', "CREATE COLLATION de (provider = icu, locale = 'de-DE'); CREATE TABLE t (id int, s text); CREATE INDEX t_s_de ON t (s COLLATE de);",
      "DROP INDEX t_s_de; DROP COLLATION de; CREATE COLLATION de (provider = icu, locale = 'de-AT'); CREATE INDEX t_s_de ON t (s COLLATE de)"),
    c('libc column moved to another libc collation', 'CREATE COLLATION c1 (provider = libc, locale = \'C\'); CREATE COLLATION p1 (provider = libc, locale = \'POSIX\'); CREATE TABLE t (id int, s text COLLATE c1);',
      'ALTER TABLE t ALTER s TYPE text COLLATE p1'),
    c('collation of a domain', "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); CREATE DOMAIN ctext AS text;",
      'DROP DOMAIN ctext; CREATE DOMAIN ctext AS text COLLATE ci'),
    c('nondeterministic collation under a unique index, column recollated', "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); CREATE TABLE t (id int, e text); CREATE UNIQUE INDEX t_e ON t (e);",
      'ALTER TABLE t ALTER e TYPE text COLLATE ci'),
    c('collation redefined under a column (ICU locale changed)', "CREATE COLLATION sv (provider = icu, locale = 'sv-SE'); CREATE TABLE t (id int, s text COLLATE sv);",
      "ALTER TABLE t ALTER s TYPE text COLLATE \"C\"; DROP COLLATION sv; CREATE COLLATION sv (provider = icu, locale = 'fi-FI'); ALTER TABLE t ALTER s TYPE text COLLATE sv"),
    c('collation in a range type and a composite', "CREATE COLLATION de (provider = icu, locale = 'de-DE');", 'CREATE TYPE trange AS RANGE (subtype = text, collation = de); CREATE TYPE named AS (label text COLLATE de)'),
  ],
  extensions: [
    c('extension created with a column of its type and an index of its opclass', 'CREATE TABLE t (id int, s text);',
      'CREATE EXTENSION pg_trgm; ALTER TABLE t ADD COLUMN tags hstore; CREATE INDEX t_s_trgm ON t USING gin (s gin_trgm_ops)', { global: true }),
    c('extension dropped with its column', 'CREATE EXTENSION cube; CREATE TABLE t (id int, c cube);', 'ALTER TABLE t DROP COLUMN c; DROP EXTENSION cube', { global: true }),
    c('extension moved to another schema', 'CREATE SCHEMA c_ext_s; CREATE EXTENSION ltree;', 'ALTER EXTENSION ltree SET SCHEMA c_ext_s', { global: true }),
    c('extension updated', "CREATE EXTENSION isn VERSION '1.1';", "ALTER EXTENSION isn UPDATE TO '1.2'", { global: true, oneWay: 'isn has no downgrade script (1.2 → 1.1)' }),
    c('citext column and a unique index on it', 'CREATE TABLE t (id int, e text);', 'ALTER TABLE t ALTER e TYPE citext; CREATE UNIQUE INDEX t_e ON t (e)'),
    c('function from an extension in a default', 'CREATE TABLE t (id int);', 'ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid(); ALTER TABLE t ADD COLUMN h text DEFAULT md5(random()::text)'),
  ],
  sequences: [
    c('owned sequence moved to a column of another table', 'CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE SEQUENCE s OWNED BY a.id; ALTER TABLE a ALTER id SET DEFAULT nextval(\'s\');',
      "ALTER TABLE a ALTER id DROP DEFAULT; ALTER SEQUENCE s OWNED BY b.id; ALTER TABLE b ALTER id SET DEFAULT nextval('s')"),
    c('identity turned into serial', 'CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);',
      "ALTER TABLE t ALTER id DROP IDENTITY; CREATE SEQUENCE t_id_seq AS integer OWNED BY t.id; ALTER TABLE t ALTER id SET DEFAULT nextval('t_id_seq')"),
    c('bigserial turned into identity with the same sequence name', 'CREATE TABLE t (id bigserial PRIMARY KEY);',
      'ALTER TABLE t ALTER id DROP DEFAULT; DROP SEQUENCE t_id_seq; ALTER TABLE t ALTER id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME t_id_seq)'),
    c('sequence shared by two tables, one table dropped', "CREATE SEQUENCE ids; CREATE TABLE a (id int DEFAULT nextval('ids')); CREATE TABLE b (id int DEFAULT nextval('ids'));", 'DROP TABLE b'),
    c('sequence in another schema used by a default', 'CREATE SCHEMA c_seq_s; CREATE TABLE t (id int);', "CREATE SEQUENCE c_seq_s.ids; ALTER TABLE t ALTER id SET DEFAULT nextval('c_seq_s.ids')", { global: true }),
    c('serial sequence renamed', 'CREATE TABLE t (id serial);', 'ALTER SEQUENCE t_id_seq RENAME TO t_ids'),
    c('sequence set unlogged', 'CREATE SEQUENCE s;', 'ALTER SEQUENCE s SET UNLOGGED'),
    c('identity column sequence options changed', 'CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY);', 'ALTER TABLE t ALTER id SET INCREMENT BY 10 SET CACHE 20'),
    c('integer serial widened to bigint', 'CREATE TABLE t (id serial PRIMARY KEY);', 'ALTER TABLE t ALTER id TYPE bigint; ALTER SEQUENCE t_id_seq AS bigint'),
  ],
  inheritance: [
    c('two parents with a merged column', 'CREATE TABLE p1 (a int, b text); CREATE TABLE p2 (a int, c text);', 'CREATE TABLE child (d int) INHERITS (p1, p2)'),
    c('one of two parents removed', 'CREATE TABLE p1 (a int, b text); CREATE TABLE p2 (a int, c text); CREATE TABLE child (d int) INHERITS (p1, p2);', 'ALTER TABLE child NO INHERIT p2; DROP TABLE p2',
      { oneWay: 'the way back leaves child.c declared locally (attislocal), which no ALTER can undo' }),
    c('column added to one of two parents', 'CREATE TABLE p1 (a int); CREATE TABLE p2 (a int); CREATE TABLE child () INHERITS (p1, p2);', 'ALTER TABLE p2 ADD COLUMN z text'),
    c('check constraint merged from two parents', 'CREATE TABLE p1 (a int); CREATE TABLE p2 (a int); CREATE TABLE child () INHERITS (p1, p2);',
      'ALTER TABLE p1 ADD CONSTRAINT a_pos CHECK (a > 0); ALTER TABLE p2 ADD CONSTRAINT a_pos CHECK (a > 0)'),
    c('three-level chain, top column retyped', 'CREATE TABLE g (a int, b int); CREATE TABLE p () INHERITS (g); CREATE TABLE c (x int) INHERITS (p);', 'ALTER TABLE g ALTER a TYPE bigint'),
    c('child of a parent with a NOT NULL and a default created', "CREATE TABLE p (a int NOT NULL DEFAULT 1, b text DEFAULT 'b');", "CREATE TABLE ch (c int) INHERITS (p); ALTER TABLE ch ALTER b SET DEFAULT 'x'"),
    c('typed table', 'CREATE TYPE person AS (name text, age int);', 'CREATE TABLE people OF person (PRIMARY KEY (name))', { known: 'typed tables (CREATE TABLE … OF type) are seen as plain tables' }),
  ],
  access: [
    c('comment on a constraint of a renamed index, and on a column of a view', `${T} CREATE VIEW v AS SELECT id, s FROM t;`,
      "COMMENT ON CONSTRAINT t_pkey ON t IS 'key'; COMMENT ON COLUMN v.s IS 'the s'"),
    c('owners of a materialized view, a domain and a schema', `${T} CREATE MATERIALIZED VIEW mv AS SELECT id FROM t; CREATE DOMAIN d AS int; CREATE SCHEMA c_own_s;`,
      'ALTER MATERIALIZED VIEW mv OWNER TO attack_owner; ALTER DOMAIN d OWNER TO attack_owner; ALTER SCHEMA c_own_s OWNER TO attack_owner', { options: { owners: true, privileges: true } }),
    c('grants on a sequence, a view column and a function with grant option', `${T} CREATE SEQUENCE s; CREATE VIEW v AS SELECT id, s FROM t; CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`,
      'GRANT USAGE, SELECT ON SEQUENCE s TO attack_reader; GRANT SELECT (s) ON v TO attack_reader; GRANT EXECUTE ON FUNCTION f() TO attack_reader WITH GRANT OPTION', { known: "privileges on a view's columns are not compared", options: { owners: true, privileges: true } }),
    c('default privileges in a schema', 'SELECT 1;', "DO $$ BEGIN EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO attack_reader', current_schema()); END $$", { known: 'ALTER DEFAULT PRIVILEGES is not compared', options: { owners: true, privileges: true } }),
    c('privileges on a table re-created for a type change', `${T} GRANT SELECT, UPDATE ON t TO attack_reader;`, "DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, s varchar(20), n numeric(10,2), body text) PARTITION BY HASH (id); CREATE TABLE t_0 PARTITION OF t FOR VALUES WITH (MODULUS 1, REMAINDER 0); GRANT SELECT, UPDATE ON t TO attack_reader",
      { options: { owners: true, privileges: true } }),
  ],
  publications: [
    c('table dropped from a publication', 'CREATE TABLE t1 (id int PRIMARY KEY); CREATE TABLE t2 (id int PRIMARY KEY); CREATE PUBLICATION pub_a1 FOR TABLE t1, t2;', 'ALTER PUBLICATION pub_a1 DROP TABLE t2', { global: true }),
    c('partitioned table published via the root', RANGE_M, 'CREATE PUBLICATION pub_a2 FOR TABLE m WITH (publish_via_partition_root = true)', { global: true }),
    c('publication row filter changed', "CREATE TABLE t (id int PRIMARY KEY, region text); CREATE PUBLICATION pub_a3 FOR TABLE t WHERE (region = 'eu');", "ALTER PUBLICATION pub_a3 SET TABLE t WHERE (region IN ('eu', 'uk'))", { global: true }),
    c('published table dropped', 'CREATE TABLE t1 (id int PRIMARY KEY); CREATE TABLE t2 (id int PRIMARY KEY); CREATE PUBLICATION pub_a4 FOR TABLE t1, t2;', 'DROP TABLE t2', { global: true }),
    c('published table re-created as partitioned', 'CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION pub_a5 FOR TABLE t;',
      'DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY) PARTITION BY HASH (id); CREATE TABLE t_0 PARTITION OF t FOR VALUES WITH (MODULUS 1, REMAINDER 0); ALTER PUBLICATION pub_a5 ADD TABLE t', { global: true }),
  ],
  wave2: [
    c('column renamed and retyped at once', `${T} CREATE INDEX t_s ON t (s);`, 'ALTER TABLE t RENAME COLUMN s TO label; ALTER TABLE t ALTER label TYPE text'),
    c('table referenced by a foreign key renamed', 'CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, p_id int CONSTRAINT c_p_fk REFERENCES p);', 'ALTER TABLE p RENAME TO parent'),
    c('partitioned parent renamed', RANGE_M, 'ALTER TABLE m RENAME TO measurements'),
    c('key and foreign key widened to bigint together', 'CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p_id int CONSTRAINT c_p_fk REFERENCES p);',
      'ALTER TABLE p ALTER id TYPE bigint; ALTER TABLE c ALTER p_id TYPE bigint'),
    c('serial key widened with its sequence and a referencing column', 'CREATE TABLE p (id serial PRIMARY KEY); CREATE TABLE c (p_id int REFERENCES p);',
      'ALTER TABLE p ALTER id TYPE bigint; ALTER SEQUENCE p_id_seq AS bigint; ALTER TABLE c ALTER p_id TYPE bigint'),
    c('column in a composite key renamed under a foreign key', 'CREATE TABLE p (a int, b int, PRIMARY KEY (a, b)); CREATE TABLE c (a int, b int, CONSTRAINT c_fk FOREIGN KEY (a, b) REFERENCES p);',
      'ALTER TABLE p RENAME COLUMN b TO bb'),
    c('column dropped under a composite index and a view', `${T} CREATE INDEX t_sn ON t (s, n); CREATE VIEW v AS SELECT id, n FROM t;`, 'DROP VIEW v; ALTER TABLE t DROP COLUMN n'),
    c('enum value added and used by a new list partition', "CREATE TYPE region AS ENUM ('eu', 'us'); CREATE TABLE o (id int, r region) PARTITION BY LIST (r); CREATE TABLE o_eu PARTITION OF o FOR VALUES IN ('eu');",
      "ALTER TYPE region ADD VALUE 'apac'; COMMIT; CREATE TABLE o_apac PARTITION OF o FOR VALUES IN ('apac')"),
    c('enum value added and used in a view', `${MOOD} CREATE TABLE t (id int, m mood);`, "ALTER TYPE mood ADD VALUE 'meh'; COMMIT; CREATE VIEW v AS SELECT id FROM t WHERE m = 'meh'"),
    c('enum recreated under a policy and a trigger WHEN', `${MOOD} CREATE TABLE t (id int, m mood); ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON t USING (m <> 'sad'); ${TRIG} CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW WHEN (NEW.m = 'happy') EXECUTE FUNCTION tg();`,
      "DROP POLICY p ON t; DROP TRIGGER tr ON t; ALTER TABLE t ALTER m TYPE text; DROP TYPE mood; CREATE TYPE mood AS ENUM ('ok', 'happy', 'sad'); ALTER TABLE t ALTER m TYPE mood USING m::mood; CREATE POLICY p ON t USING (m <> 'sad'); CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW WHEN (NEW.m = 'happy') EXECUTE FUNCTION tg()"),
    c('enum recreated under a column of a partition', `${MOOD} ${RANGE_M} ALTER TABLE m ADD COLUMN md mood;`,
      "ALTER TABLE m ALTER md TYPE text; DROP TYPE mood; CREATE TYPE mood AS ENUM ('happy', 'ok'); ALTER TABLE m ALTER md TYPE mood USING md::mood"),
    c('enum recreated under an index on a partitioned table', `${MOOD} ${RANGE_M} ALTER TABLE m ADD COLUMN md mood; CREATE INDEX m_md ON m (md);`,
      "DROP INDEX m_md; ALTER TABLE m ALTER md TYPE text; DROP TYPE mood; CREATE TYPE mood AS ENUM ('happy', 'ok'); ALTER TABLE m ALTER md TYPE mood USING md::mood; CREATE INDEX m_md ON m (md)"),
    c('composite attribute renamed under a column', 'CREATE TYPE pt AS (x int, y int); CREATE TABLE t (id int, p pt);', 'ALTER TYPE pt RENAME ATTRIBUTE y TO z'),
    c('composite attribute added under a column', 'CREATE TYPE pt AS (x int, y int); CREATE TABLE t (id int, p pt);', 'ALTER TYPE pt ADD ATTRIBUTE z int'),
    c('typed table type gets an attribute', 'CREATE TYPE person AS (name text, age int); CREATE TABLE people OF person;', 'ALTER TYPE person ADD ATTRIBUTE email text CASCADE', { known: 'typed tables: ALTER TYPE … ADD ATTRIBUTE needs CASCADE and the column comes with it' }),
    c('range type under an exclusion constraint redefined', 'CREATE TYPE numr AS RANGE (subtype = numeric); CREATE TABLE r (id int, span numr, CONSTRAINT r_x EXCLUDE USING gist (span WITH &&));',
      'ALTER TABLE r DROP CONSTRAINT r_x; ALTER TABLE r DROP COLUMN span; DROP TYPE numr; CREATE TYPE numr AS RANGE (subtype = float8); ALTER TABLE r ADD COLUMN span numr; ALTER TABLE r ADD CONSTRAINT r_x EXCLUDE USING gist (span WITH &&)', { known: 'a range type redefined while a column uses it is a manual step (its multirange type keeps the name the new one needs)' }),
    c('view check option changed', `${T} CREATE VIEW v AS SELECT * FROM t WHERE n > 0 WITH CASCADED CHECK OPTION;`, 'CREATE OR REPLACE VIEW v AS SELECT * FROM t WHERE n > 0 WITH LOCAL CHECK OPTION'),
    c('policy with a subquery on a rebuilt table', 'CREATE TABLE members (uid int, org int); CREATE TABLE docs (id int, org int); ALTER TABLE docs ENABLE ROW LEVEL SECURITY; CREATE POLICY d ON docs USING (org IN (SELECT org FROM members WHERE uid = 1));',
      "DROP POLICY d ON docs; DROP TABLE members; CREATE TABLE members (uid int, org int) PARTITION BY HASH (uid); CREATE TABLE members_0 PARTITION OF members FOR VALUES WITH (MODULUS 1, REMAINDER 0); CREATE POLICY d ON docs USING (org IN (SELECT org FROM members WHERE uid = 1))"),
    c('trigger arguments changed', `${T} ${TRIG} CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg('a');`, "DROP TRIGGER tr ON t; CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg('a', 'b')"),
    c('foreign key to a partitioned table, partition added', "CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE TABLE r (id int, at date, FOREIGN KEY (id, at) REFERENCES m);",
      "CREATE TABLE m_2 PARTITION OF m FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')"),
    c('partial unique index on a partitioned table', RANGE_M, 'CREATE UNIQUE INDEX m_id_at ON m (id, at) WHERE v IS NOT NULL'),
    c('comment on a partition column and a partition index', `${RANGE_M} CREATE INDEX m_at ON m (at);`, "COMMENT ON COLUMN m_1.v IS 'v of 2020'; COMMENT ON INDEX m_1_at_idx IS 'auto'"),
    c('mixed-case partitioned names', 'SELECT 1;', "CREATE TABLE \"Events\" (\"Id\" int, \"At\" date) PARTITION BY RANGE (\"At\"); CREATE TABLE \"Events_2020\" PARTITION OF \"Events\" FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); CREATE INDEX \"Events_At\" ON \"Events\" (\"At\")"),
    c('function overload dropped, the other kept under a default', 'CREATE FUNCTION f(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 1 $$; CREATE FUNCTION f(text) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 2 $$; CREATE TABLE t (id int DEFAULT f(1));',
      'DROP FUNCTION f(text)'),
    c('procedure signature changed', 'CREATE TABLE t (id int); CREATE PROCEDURE ins(x int) LANGUAGE sql AS $$ INSERT INTO t VALUES (x) $$;', 'DROP PROCEDURE ins(int); CREATE PROCEDURE ins(x int, y int DEFAULT 0) LANGUAGE sql AS $$ INSERT INTO t VALUES (x + y) $$'),
    c('aggregate whose state function changes', 'CREATE FUNCTION acc(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + $2 $$; CREATE AGGREGATE total(int) (SFUNC = acc, STYPE = int, INITCOND = \'0\');',
      "CREATE FUNCTION acc2(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + $2 * 2 $$; DROP AGGREGATE total(int); CREATE AGGREGATE total(int) (SFUNC = acc2, STYPE = int, INITCOND = '0'); DROP FUNCTION acc(int, int)"),
    c('column default from a sequence of another table', 'CREATE TABLE a (id serial); CREATE TABLE b (id int);', "ALTER TABLE b ALTER id SET DEFAULT nextval('a_id_seq')"),
    c('identity column on a child of an inheritance tree', 'CREATE TABLE p (id int, v text);', 'CREATE TABLE ch (own int GENERATED ALWAYS AS IDENTITY) INHERITS (p)'),
    c('table made unlogged with a sequence owned by it', 'CREATE TABLE t (id serial, v text);', 'ALTER TABLE t SET UNLOGGED'),
    c('check constraint using a renamed column and a function', 'CREATE FUNCTION ok(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT length($1) > 0 $$; CREATE TABLE t (id int, s text CONSTRAINT t_s_ok CHECK (ok(s)));',
      'ALTER TABLE t RENAME COLUMN s TO label'),
  ],
  other: [
    c('statistics object created', 'CREATE TABLE t (a int, b int);', 'CREATE STATISTICS t_ab (dependencies, ndistinct) ON a, b FROM t'),
    c('statistics object dropped with its column', 'CREATE TABLE t (a int, b int, c int); CREATE STATISTICS t_ab ON a, b FROM t;', 'ALTER TABLE t DROP COLUMN b'),
    c('statistics target of a statistics object', 'CREATE TABLE t (a int, b int); CREATE STATISTICS t_ab ON a, b FROM t;', 'ALTER STATISTICS t_ab SET STATISTICS 500'),
    c('event trigger tags changed', 'CREATE FUNCTION et() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; CREATE EVENT TRIGGER et_a1 ON ddl_command_end WHEN TAG IN (\'CREATE TABLE\') EXECUTE FUNCTION et();',
      "DROP EVENT TRIGGER et_a1; CREATE EVENT TRIGGER et_a1 ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION et()", { global: true }),
    c('event trigger function replaced', 'CREATE FUNCTION et() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; CREATE EVENT TRIGGER et_a2 ON sql_drop EXECUTE FUNCTION et();',
      'CREATE FUNCTION et2() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; DROP EVENT TRIGGER et_a2; CREATE EVENT TRIGGER et_a2 ON sql_drop EXECUTE FUNCTION et2(); DROP FUNCTION et()', { global: true }),
    c('trigger enabled always and replica', `${T} ${TRIG} CREATE TRIGGER tr1 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg(); CREATE TRIGGER tr2 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION tg();`,
      'ALTER TABLE t ENABLE ALWAYS TRIGGER tr1; ALTER TABLE t ENABLE REPLICA TRIGGER tr2'),
    c('text search configuration', 'SELECT 1;', 'CREATE TEXT SEARCH CONFIGURATION my_en (COPY = english); ALTER TEXT SEARCH CONFIGURATION my_en DROP MAPPING FOR email', { known: 'text search objects are not compared' }),
    c('generated tsvector column with a GIN index', `${T}`, "ALTER TABLE t ADD COLUMN doc tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(body, ''))) STORED; CREATE INDEX t_doc ON t USING gin (doc)"),
    c('column with a generated column reading it retyped', 'CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED);', 'ALTER TABLE t DROP COLUMN b; ALTER TABLE t ALTER a TYPE bigint; ALTER TABLE t ADD COLUMN b bigint GENERATED ALWAYS AS (a * 2) STORED'),
    c('unlogged table with an index turned logged', 'CREATE UNLOGGED TABLE t (id int PRIMARY KEY, s text); CREATE INDEX t_s ON t (s);', 'ALTER TABLE t SET LOGGED'),
  ],
};

/** Options a case asks for (owners, privileges). */
const optionsOf = (x: CorpusCase) => (x as CorpusCase & { options?: { owners?: boolean; privileges?: boolean } }).options ?? {};

describe('branch diff, outside attack cases: migration applies, diff empty, pg_dump equal', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('attack_template');
    await execSql(cluster, 'attack_template', 'CREATE EXTENSION IF NOT EXISTS btree_gist; CREATE EXTENSION IF NOT EXISTS citext; CREATE EXTENSION IF NOT EXISTS hstore; CREATE EXTENSION IF NOT EXISTS pgcrypto');
    await execSql(cluster, 'attack_template', "DO $$ BEGIN CREATE ROLE attack_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN CREATE ROLE attack_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const run = (prefix: string, cases: readonly (readonly [number, CorpusCase])[]): Promise<string[]> =>
    caseProblems(cluster, 'attack_template', prefix, cases, cases.some(([, x]) => optionsOf(x).owners) ? { owners: true, privileges: true } : {});

  let offset = 0;
  const all: (readonly [number, AttackCase, string])[] = [];
  for (const [group, list] of Object.entries(GROUPS)) {
    list.forEach((x, i) => all.push([offset + i, x, group]));
    offset += list.length;
  }

  if (process.env.ATTACK_EACH) {
    const results: { index: number; group: string; name: string; ok: boolean; problem?: string }[] = [];
    for (const [index, x, group] of all) {
      it(`${group}: ${x.name}`, async () => {
        let problems: string[];
        try {
          problems = await run(`at${index}`, [[index, x]]);
        } catch (error) {
          problems = [(error as Error).message];
        }
        results.push({ index, group, name: x.name, ok: problems.length === 0, problem: problems.join('\n=====\n') || undefined });
        await writeFile(process.env.ATTACK_OUT ?? '/tmp/attack-results.json', JSON.stringify(results, null, 1));
        expect(problems).toEqual([]);
      }, 300_000);
    }
    return;
  }

  // The groups are independent (each its own pair of databases from the template, its own copies;
  // no case changes a role or anything else the cluster shares), so a few run at a time.
  for (const [group] of Object.entries(GROUPS)) {
    const cases = all.filter(([, x, g]) => g === group && !x.known).map(([index, x]) => [index, x] as const);
    it.concurrent(`${group}: ${cases.length} cases`, async () => {
      const problems = await run(`at_${group}`, cases);
      expect(problems, `cases concerned: ${culprits(problems, cases).join('; ')}`).toEqual([]);
    }, 300_000);
  }
  for (const [, x, group] of all) if (x.known) it.todo(`${group}: ${x.name} (${x.known})`);
});
