import { execa } from 'execa';
import pg from 'pg';
import { diffSnapshots, type SchemaChange } from '../../src/schema/diff.js';
import type { SnapshotOptions } from '../../src/schema/snapshot.js';
import { planMigration, renderMigration } from '../../src/schema/sql.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import type { TestCluster } from './cluster.js';
import { libpqEnv, runPsql } from './pagila.js';
import { cloneDatabase, type SnapshotCache, snapshotDatabase, snapshotOnce } from './schema-diff.js';

/**
 * The round-trip corpus runner. A case is two schemas: `setup` (run on both sides) and `change`
 * (run on `b` only). Many cases share one pair of databases: each case lives in a schema of its
 * own (`search_path` is set to it while its SQL runs), so one diff, one migration and one pass of
 * pg_dump judge a whole batch. A failure names the cases whose schemas it mentions.
 */
export interface CorpusCase {
  readonly name: string;
  readonly setup?: string;
  readonly change: string;
  /**
   * The case changes objects outside its schema (extensions, casts, event triggers, publications,
   * foreign servers): it is not required to show a change inside its own schema.
   */
  readonly global?: boolean;
  /** Only forward (a → b): the way back cannot converge by design (say why in the case). */
  readonly oneWay?: string;
}

export interface Direction {
  readonly from: string;
  readonly to: string;
  readonly changes: SchemaChange[];
  readonly sql: string;
  /** Set when psql failed to apply the migration. */
  readonly error?: string;
  /** What ayb's diff still sees between (from + migration) and to. */
  readonly residue: SchemaChange[];
  /** Lines of pg_dump --schema-only that differ (column order ignored): `-` only in the copy, `+` only in `to`. */
  readonly dumpDifference: string[];
}

export const caseSchema = (index: number): string => `c${String(index).padStart(3, '0')}`;

/** Runs each case's SQL (setup or change) in its own schema, on one connection. */
async function runCases(cluster: TestCluster, database: string, cases: readonly (readonly [number, CorpusCase])[], part: 'setup' | 'change'): Promise<void> {
  const client = new pg.Client({ ...cluster.conn, database });
  await client.connect();
  try {
    for (const [index, c] of cases) {
      const schema = caseSchema(index);
      const sql = part === 'setup' ? `CREATE SCHEMA ${schema}; SET search_path = ${schema}, public; ${c.setup ?? ''}` : `SET search_path = ${schema}, public; ${c.change}`;
      try {
        await client.query(sql);
      } catch (error) {
        throw new Error(`case "${c.name}" (${schema}): its ${part} SQL failed: ${(error as Error).message}`, { cause: error });
      } finally {
        await client.query('RESET search_path').catch(() => undefined);
      }
    }
  } finally {
    await client.end();
  }
}

/** Builds `prefix_a` (every case's setup) and `prefix_b` (the same plus every change). */
export async function buildPair(cluster: TestCluster, template: string, prefix: string, cases: readonly (readonly [number, CorpusCase])[]): Promise<{ a: string; b: string }> {
  const a = `${prefix}_a`;
  const b = `${prefix}_b`;
  await cloneDatabase(cluster, template, a);
  await runCases(cluster, a, cases, 'setup');
  await cloneDatabase(cluster, a, b);
  await runCases(cluster, b, cases, 'change');
  return { a, b };
}

/**
 * Applies the migration from → to on a copy of `from`, then diffs and dumps the copy against `to`.
 * With a cache, the snapshots of `from` and `to` are taken from it (see SnapshotCache).
 */
export async function judge(cluster: TestCluster, from: string, to: string, options: SnapshotOptions = {}, cache?: SnapshotCache): Promise<Direction> {
  const [before, after] = await Promise.all([snapshotOnce(cluster, from, options, cache), snapshotOnce(cluster, to, options, cache)]);
  const changes = diffSnapshots(before, after);
  const sql = renderMigration(planMigration(before, after));
  const copy = `${from}_x`;
  await cloneDatabase(cluster, from, copy);
  try {
    try {
      await runPsql(cluster, copy, { sql });
    } catch (error) {
      return { from, to, changes, sql, error: (error as Error).message, residue: [], dumpDifference: [] };
    }
    const residue = diffSnapshots(await snapshotDatabase(cluster, copy, options), after);
    const [copyDump, toDump] = await Promise.all([schemaDump(cluster, copy, options), schemaDump(cluster, to, options)]);
    return { from, to, changes, sql, residue, dumpDifference: compareDumps(copyDump, toDump) };
  } finally {
    await cluster.query(`DROP DATABASE IF EXISTS ${quoteIdent(copy)} WITH (FORCE)`, [], 'postgres');
  }
}

async function schemaDump(cluster: TestCluster, database: string, options: SnapshotOptions = {}): Promise<string> {
  const flags = ['--schema-only', ...(options.owners ? [] : ['--no-owner']), ...(options.privileges ? [] : ['--no-privileges'])];
  const result = await execa('pg_dump', flags, { env: libpqEnv(cluster, database), reject: false });
  if (result.exitCode !== 0) throw new Error(`pg_dump failed on ${database}: ${result.stderr}`);
  return result.stdout;
}

/**
 * pg_dump's statements as a sorted list, with the lines of each CREATE TABLE or CREATE TYPE … AS
 * (…) sorted too: two schemas that differ only in the order of their columns compare equal.
 */
export function normaliseDump(dump: string): string[] {
  // \restrict lines carry a random key per run (pg_dump's guard against injected psql meta-commands).
  const lines = dump.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--') && !/^SET |^SELECT pg_catalog.set_config|^\\(un)?restrict /.test(line));
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    current.push(line);
    if (line.endsWith(';')) {
      statements.push(normaliseStatement(current));
      current = [];
    }
  }
  if (current.length > 0) statements.push(normaliseStatement(current));
  return statements.sort();
}

function normaliseStatement(lines: string[]): string {
  if (lines.length > 2 && /^CREATE (UNLOGGED |FOREIGN )?TABLE .*\($|^CREATE TYPE .* AS \($/.test(lines[0]!)) {
    let close = lines.length - 1;
    while (close > 1 && !lines[close]!.startsWith(')')) close--;
    const inner = lines.slice(1, close).map((line) => line.trim().replace(/,$/, '')).sort();
    lines = [lines[0]!, ...inner, ...lines.slice(close)];
  }
  // Storage parameters are a set: their order in SET (…) and WITH (…) means nothing.
  return lines.join('\n').replace(/(^|\s)(SET|WITH) \(([a-z_.]+=[^()]*)\)/gm, (_, space: string, keyword: string, list: string) => `${space}${keyword} (${list.split(', ').sort().join(', ')})`);
}

export function compareDumps(copy: string, to: string): string[] {
  const x = normaliseDump(copy);
  const y = normaliseDump(to);
  const ys = new Set(y);
  const xs = new Set(x);
  return [...x.filter((s) => !ys.has(s)).map((s) => `- ${s}`), ...y.filter((s) => !xs.has(s)).map((s) => `+ ${s}`)];
}

/** The names of the cases whose schemas a text mentions (`c012` …). */
export function casesNamed(text: string, cases: readonly (readonly [number, CorpusCase])[]): string[] {
  const mentioned = new Set([...text.matchAll(/\bc(\d{3})\b/g)].map((m) => Number(m[1])));
  return cases.filter(([index]) => mentioned.has(index)).map(([index, x]) => `${caseSchema(index)} ${x.name}`);
}

/** A readable account of a direction that did not converge, or undefined when it did. */
export function failure(direction: Direction): string | undefined {
  if (direction.error) {
    // psql names the line it stopped at: show that statement first.
    const line = Number(/psql:<stdin>:(\d+):/.exec(direction.error)?.[1] ?? 0);
    const at = line > 0 ? direction.sql.split('\n').slice(Math.max(0, line - 3), line).join('\n') : '';
    return `${direction.from} → ${direction.to}: the migration failed:\n${direction.error}\nat:\n${at}\n--- migration ---\n${direction.sql}`;
  }
  const parts: string[] = [];
  if (direction.residue.length > 0) parts.push(`diff after the migration is not empty:\n${JSON.stringify(direction.residue, null, 1)}`);
  if (direction.dumpDifference.length > 0) parts.push(`pg_dump differs:\n${direction.dumpDifference.join('\n')}`);
  return parts.length > 0 ? `${direction.from} → ${direction.to}: ${parts.join('\n')}\n--- migration ---\n${direction.sql}` : undefined;
}

/**
 * The two judges over a batch of round-trip cases (diff-corpus, diff-last-mile, diff-attack): the
 * pair built from `template`, the migration judged from a to b and, when that applied, back from b
 * to a, every case required to show a change of its own (but global ones). The way back leaves out
 * what one-way cases leave (each says why); a global one-way case (an extension with no downgrade
 * script) cannot even be applied back, so the way back then starts from a pair built without it.
 * Returns what went wrong, one text per problem (see failure).
 */
export async function caseProblems(cluster: TestCluster, template: string, prefix: string, cases: readonly (readonly [number, CorpusCase])[], options: SnapshotOptions = {}): Promise<string[]> {
  const { a, b } = await buildPair(cluster, template, prefix, cases);
  // The pair is not changed by a judge (the migrations run in copies): each is read once.
  const cache: SnapshotCache = new Map();
  const forward = await judge(cluster, a, b, options, cache);
  const problems: string[] = [];
  for (const [index, x] of cases) {
    if (!x.global && !forward.changes.some((ch) => ch.schema === caseSchema(index))) problems.push(`case "${x.name}" (${caseSchema(index)}): no change found`);
  }
  const directions: Direction[] = [forward];
  if (!forward.error) {
    const back = cases.some(([, x]) => x.oneWay && x.global) ? await buildPair(cluster, template, `${prefix}_back`, cases.filter(([, x]) => !(x.oneWay && x.global))) : { a, b };
    const backward = await judge(cluster, back.b, back.a, options, cache);
    const oneWay = cases.filter(([, x]) => x.oneWay).map(([index]) => caseSchema(index));
    directions.push({
      ...backward,
      residue: backward.residue.filter((ch) => !oneWay.includes(ch.schema)),
      dumpDifference: backward.dumpDifference.filter((line) => !oneWay.some((schema) => line.includes(` ${schema}.`))),
    });
  }
  for (const direction of directions) {
    const text = failure(direction);
    if (text) problems.push(text);
  }
  return problems;
}

/** The names of the cases `problems` (from caseProblems) are about, for the message of a failed check. */
export function culprits(problems: readonly string[], cases: readonly (readonly [number, CorpusCase])[]): string[] {
  return casesNamed(problems.map((p) => p.split('\n--- migration ---\n')[0]).join('\n'), cases);
}
