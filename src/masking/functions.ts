import { createHash, createHmac } from 'node:crypto';
import type { MaskingFunction } from '../config/schema.js';
import { FIRST_NAMES, LAST_NAMES, STREET_KINDS, STREETS } from './vocabulary.js';

/**
 * The masking functions in TypeScript, for the stream path (rows rewritten between pg_dump and
 * psql). sql-functions.ts implements the very same algorithm in SQL for the in-place path (a
 * template copy masked with UPDATE); test/integration/masking-functions.test.ts pins that both give
 * the same output for the same input.
 *
 * Everything derives from d = HMAC-SHA256(key, value as UTF-8), the key derived from the secret: the same value and secret give
 * the same output everywhere (joins on a masked value still join), and without the secret nobody
 * can tell which input gave which output. Values are handled as their text form (PostgreSQL's
 * output function, as in COPY), NULL stays NULL.
 */

/** The arguments of one rule, as validated by the config schema. */
export type MaskArgs = Readonly<Record<string, unknown>>;

export interface MaskSpec {
  readonly function: Exclude<MaskingFunction, 'sql'>;
  readonly args: MaskArgs;
  /** Give vocabulary-based outputs a 64-bit keyed suffix, so unique inputs stay unique. */
  readonly unique: boolean;
}

/**
 * The key the functions use: derived from the secret (HMAC-SHA256 of a fixed label), so the secret
 * itself never leaves ayb. The SQL functions receive the key as a query parameter, and a server that
 * logs statements with their parameters would log it: that reveals the masking key of this secret,
 * never the secret, which may serve elsewhere too.
 */
export function maskingKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('ayb masking key v1').digest();
}

/**
 * The 128-byte argument the SQL functions take: HMAC's inner and outer padded keys (RFC 2104), so
 * SQL can compute HMAC-SHA256 with the built-in sha256() alone (no pgcrypto). It is passed as a
 * query parameter and never stored in the branch.
 */
export function sqlKey(secret: string): Buffer {
  const padded = Buffer.alloc(64);
  maskingKey(secret).copy(padded);
  const inner = Buffer.from(padded.map((b) => b ^ 0x36));
  const outer = Buffer.from(padded.map((b) => b ^ 0x5c));
  return Buffer.concat([inner, outer]);
}

export class Masker {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = maskingKey(secret);
  }

  digest(value: string): Buffer {
    return createHmac('sha256', this.key).update(value, 'utf8').digest();
  }

  /** The masked text of `value` (null for NULL, and for the `null` function). */
  apply(spec: Pick<MaskSpec, 'function' | 'args' | 'unique'>, value: string | null): string | null {
    if (value === null) return null;
    const { args } = spec;
    switch (spec.function) {
      case 'null':
        return null;
      case 'constant':
        return String(args.value);
      case 'date_shift':
        return this.dateShift(value, (args.days as number | undefined) ?? 30);
      case 'json_keys':
        return serializeJson(this.jsonWalk(parseJson(value), args, false));
      default:
        break;
    }
    const d = this.digest(value);
    const suffix = spec.unique ? ` ${d.subarray(8, 16).toString('hex')}` : '';
    switch (spec.function) {
      case 'email':
        return `${pickWord(FIRST_NAMES, d, 0).toLowerCase()}.${pickWord(LAST_NAMES, d, 3).toLowerCase()}.${d.subarray(8, 16).toString('hex')}@${(args.domain as string | undefined) ?? 'example.com'}`;
      case 'first_name':
        return pickWord(FIRST_NAMES, d, 0) + suffix;
      case 'last_name':
        return pickWord(LAST_NAMES, d, 3) + suffix;
      case 'name':
        return `${pickWord(FIRST_NAMES, d, 0)} ${pickWord(LAST_NAMES, d, 3)}${suffix}`;
      case 'address':
        return `${1 + ((d[6]! * 256 + d[7]!) % 9999)} ${pickWord(STREETS, d, 16)} ${STREET_KINDS[d[19]! % STREET_KINDS.length]}${suffix}`;
      case 'phone':
        return scramble(value, d, true, 0, 0) + suffix;
      case 'hash':
        return d.toString('hex').slice(0, (args.length as number | undefined) ?? 32);
      case 'redact':
        return scramble(value, d, false, (args.keep_first as number | undefined) ?? 0, (args.keep_last as number | undefined) ?? 0);
    }
    throw new Error(`unknown masking function ${spec.function}`);
  }

  /** Moves a leading ISO date by 1 to `days` days, earlier or later; the rest (time, zone) stays. */
  private dateShift(value: string, days: number): string {
    const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
    if (!match || / BC$/.test(value)) return value;
    let shift = pick(this.digest(value), 0, 2 * days) - days;
    if (shift >= 0) shift += 1;
    const date = new Date(0);
    date.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + shift);
    const year = date.getUTCFullYear();
    if (year < 1 || year > 9999) return value;
    const text = `${String(year).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
    return text + value.slice(10);
  }

  /** json_keys: the scalars under the named keys (at any depth, and everything inside them) are masked. */
  private jsonWalk(node: JsonNode, args: MaskArgs, all: boolean): JsonNode {
    const keys = args.keys as readonly string[];
    switch (node.kind) {
      case 'object':
        return { kind: 'object', entries: node.entries.map(([k, v]) => [k, this.jsonWalk(v, args, all || keys.includes(k))]) };
      case 'array':
        return { kind: 'array', items: node.items.map((item) => this.jsonWalk(item, args, all)) };
      case 'null':
        return node;
      default: {
        if (!all) return node;
        const text = node.kind === 'string' ? node.value : node.raw;
        const fn = ((args.function as string | undefined) ?? 'hash') as MaskSpec['function'];
        const masked = this.apply({ function: fn, args, unique: (args.unique as boolean | undefined) ?? false }, text);
        return masked === null ? { kind: 'null' } : { kind: 'string', value: masked };
      }
    }
  }
}

/** 24 bits of the digest at `offset`, modulo n. */
function pick(d: Buffer, offset: number, n: number): number {
  return (d[offset]! * 65536 + d[offset + 1]! * 256 + d[offset + 2]!) % n;
}

function pickWord(words: readonly string[], d: Buffer, offset: number): string {
  return words[pick(d, offset, words.length)]!;
}

/**
 * Replaces characters from a keystream (SHA-256 of the digest and a block number): digits by
 * digits, A-Z by A-Z, whitespace and ASCII punctuation kept, anything else by a-z. `digitsOnly`
 * (phone) replaces only digits. Length and format stay; characters are code points, as in SQL.
 */
function scramble(value: string, d: Buffer, digitsOnly: boolean, keepFirst: number, keepLast: number): string {
  const chars = Array.from(value);
  let block = Buffer.alloc(0);
  let out = '';
  chars.forEach((c, j) => {
    if (j % 32 === 0) {
      const counter = Buffer.alloc(4);
      counter.writeInt32BE(j / 32);
      block = createHash('sha256').update(d).update(counter).digest();
    }
    const b = block[j % 32]!;
    const code = c.codePointAt(0)!;
    if (j < keepFirst || j >= chars.length - keepLast) out += c;
    else if (code >= 48 && code <= 57) out += String.fromCharCode(48 + (b % 10));
    else if (digitsOnly || isKept(code)) out += c;
    else if (code >= 65 && code <= 90) out += String.fromCharCode(65 + (b % 26));
    else out += String.fromCharCode(97 + (b % 26));
  });
  return out;
}

/** Whitespace and ASCII punctuation: the format that redact keeps. */
function isKept(code: number): boolean {
  return code === 9 || code === 10 || code === 13 || code === 32 || (code >= 33 && code <= 47) || (code >= 58 && code <= 64) || (code >= 91 && code <= 96) || (code >= 123 && code <= 126);
}

/** JSON with numbers kept as written, so values nobody masks come out exactly as they went in. */
export type JsonNode =
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number' | 'literal'; readonly raw: string }
  | { readonly kind: 'null' };

export function parseJson(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new Error(`invalid JSON at offset ${i}`);
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): JsonNode => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, JsonNode][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const key = str();
        ws();
        if (text[i++] !== ':') fail();
        entries.push([key, value()]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { kind: 'object', entries };
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return { kind: 'array', items };
        } else fail();
      }
    }
    if (c === '"') return { kind: 'string', value: str() };
    const match = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!match) return fail();
    i += match[0].length;
    if (match[0] === 'null') return { kind: 'null' };
    return { kind: match[0] === 'true' || match[0] === 'false' ? 'literal' : 'number', raw: match[0] };
  };
  const result = value();
  ws();
  if (i !== text.length) fail();
  return result;
}

export function serializeJson(node: JsonNode): string {
  switch (node.kind) {
    case 'object':
      return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}: ${serializeJson(v)}`).join(', ')}}`;
    case 'array':
      return `[${node.items.map(serializeJson).join(', ')}]`;
    case 'string':
      return JSON.stringify(node.value);
    case 'null':
      return 'null';
    default:
      return node.raw;
  }
}
