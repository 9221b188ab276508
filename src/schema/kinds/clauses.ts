import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import type { ColumnDefinition, IdentityDefinition, ObjectOf, SequenceOptions } from '../model.js';
import { relationOf } from './kind.js';

/** Clauses more than one kind writes: sequence options, column clauses, storage options, FDW options. */

export function generationKeyword(identity: IdentityDefinition): string {
  return identity.generation === 'always' ? 'ALWAYS' : 'BY DEFAULT';
}

export function identityClause(identity: IdentityDefinition): string {
  return `GENERATED ${generationKeyword(identity)} AS IDENTITY (${sequenceOptionChanges(undefined, identity, 'create').join(' ')})`;
}

/** Sequence options of `to` that differ from `from` (all of them when creating). */
export function sequenceOptionChanges(from: SequenceOptions | undefined, to: SequenceOptions, mode: 'create' | 'alter'): string[] {
  const out: string[] = [];
  const differs = (key: keyof SequenceOptions) => mode === 'create' || !from || from[key] !== to[key];
  if (differs('increment')) out.push(`INCREMENT BY ${to.increment}`);
  if (differs('min_value')) out.push(`MINVALUE ${to.min_value}`);
  if (differs('max_value')) out.push(`MAXVALUE ${to.max_value}`);
  if (differs('start')) out.push(`START WITH ${to.start}`);
  if (differs('cache')) out.push(`CACHE ${to.cache}`);
  if (differs('cycle')) out.push(to.cycle ? 'CYCLE' : 'NO CYCLE');
  return out;
}

export function columnClause(column: ColumnDefinition & { name: string }): string {
  let clause = `${quoteIdent(column.name)} ${column.type}`;
  if (column.collation) clause += ` COLLATE ${column.collation}`;
  if (column.generated !== null) clause += ` GENERATED ALWAYS AS (${rx(column.generated)}) STORED`;
  if (column.identity) clause += ` ${identityClause(column.identity)}`;
  if (column.default !== null) clause += ` DEFAULT ${rx(column.default)}`;
  if (column.not_null) clause += ' NOT NULL';
  return clause;
}

const NO_SETTINGS = { statistics: null, storage: null, compression: null, options: [] as readonly string[] };

/** SET STATISTICS / STORAGE / COMPRESSION / (options) that take `column` from `from` (the defaults when new). */
export function columnSettings(column: ObjectOf<'column'>, from: Pick<ColumnDefinition, 'statistics' | 'storage' | 'compression' | 'options'> = NO_SETTINGS): string[] {
  const y = column.definition;
  const prefix = `ALTER TABLE ${relationOf(column)} ALTER COLUMN ${quoteIdent(column.name)}`;
  const out: string[] = [];
  if (from.statistics !== y.statistics) out.push(`${prefix} SET STATISTICS ${y.statistics ?? -1}`);
  if (from.storage !== y.storage) out.push(`${prefix} SET STORAGE ${(y.storage ?? column.typeStorage ?? 'extended').toUpperCase()}`);
  if (from.compression !== y.compression) out.push(`${prefix} SET COMPRESSION ${y.compression ?? 'default'}`);
  out.push(...optionSettings(prefix, from.options, y.options));
  return out;
}

/** `RESET (k)` and `SET (k=v)` statements that take storage options from `from` to `to`. */
export function optionSettings(prefix: string, from: readonly string[], to: readonly string[]): string[] {
  const out: string[] = [];
  const optionKey = (option: string) => option.slice(0, option.indexOf('='));
  const removed = from.map(optionKey).filter((key) => !to.some((option) => optionKey(option) === key));
  if (removed.length > 0) out.push(`${prefix} RESET (${removed.join(', ')})`);
  const set = to.filter((option) => !from.includes(option));
  if (set.length > 0) out.push(`${prefix} SET (${set.join(', ')})`);
  return out;
}

export function withOptions(options: readonly string[]): string {
  return options.length > 0 ? ` WITH (${options.join(', ')})` : '';
}

export function viewBody(definition: string): string {
  return rx(definition.trim().replace(/;$/, ''));
}

const optionParts = (option: string) => ({ key: option.slice(0, option.indexOf('=')), value: option.slice(option.indexOf('=') + 1) });

/** ` OPTIONS (key 'value', …)` of a foreign server, table or column; empty when there are none. */
export function fdwOptions(options: readonly string[]): string {
  if (options.length === 0) return '';
  return ` OPTIONS (${options
    .map((option) => {
      const { key, value } = optionParts(option);
      return `${quoteIdent(key)} ${quoteLiteral(value)}`;
    })
    .join(', ')})`;
}

/** ` OPTIONS (DROP k, SET k 'v', ADD k 'v')` that take `from` to `to`. */
export function optionChanges(from: readonly string[], to: readonly string[]): string {
  const before = new Map(from.map((option) => [optionParts(option).key, optionParts(option).value]));
  const after = new Map(to.map((option) => [optionParts(option).key, optionParts(option).value]));
  const parts: string[] = [];
  for (const key of before.keys()) if (!after.has(key)) parts.push(`DROP ${quoteIdent(key)}`);
  for (const [key, value] of after) {
    if (!before.has(key)) parts.push(`ADD ${quoteIdent(key)} ${quoteLiteral(value)}`);
    else if (before.get(key) !== value) parts.push(`SET ${quoteIdent(key)} ${quoteLiteral(value)}`);
  }
  return parts.length > 0 ? ` OPTIONS (${parts.join(', ')})` : '';
}

/** The statement that sets a trigger's, rule's or event trigger's state, when it is not the default (`origin`). */
export function enabledState(enabled: 'origin' | 'disabled' | 'replica' | 'always', what: string): string | undefined {
  const state = { origin: '', disabled: `DISABLE${what}`, replica: `ENABLE REPLICA${what}`, always: `ENABLE ALWAYS${what}` }[enabled];
  return state || undefined;
}
