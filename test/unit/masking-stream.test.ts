import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { decodeCopyField, encodeCopyField, maskingStream, parseCopyHeader } from '../../src/masking/copy-stream.js';
import { Masker } from '../../src/masking/functions.js';
import type { MaskPlan } from '../../src/masking/plan.js';

const masker = new Masker('unit-test-secret-0123456789');

const plan: MaskPlan = {
  problems: [],
  tables: [{
    schema: 'public', table: 'Odd "name"', relkind: 'r',
    columns: [
      { column: 'Email', type: 'text', stringType: true, via: 'rule', mask: { kind: 'function', function: 'email', args: {}, unique: false } },
      { column: 'note', type: 'text', stringType: true, via: 'rule', mask: { kind: 'function', function: 'redact', args: {}, unique: false } },
    ],
  }],
};

const DUMP = [
  'SET client_encoding = \'UTF8\';',
  'COPY public.other (id, "Email") FROM stdin;',
  '1\tkeep@me.org',
  'COPY public."Odd ""name""" (id, "Email", note) FROM stdin;',
  '\\.',
  'COPY public."Odd ""name""" (id, "Email", note) FROM stdin;',
  '1\tann@example.org\tline one\\nline two\\twith tab \\\\ slash',
  '2\t\\N\t\\N',
  '\\.',
  'SELECT 1;',
  '',
].join('\n');

/** Feeds the dump in chunks of `size` bytes, so lines and UTF-8 characters are cut anywhere. */
async function rewrite(dump: string, size: number): Promise<string> {
  const bytes = Buffer.from(dump, 'utf8');
  const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  return text(Readable.from(chunks).pipe(maskingStream(plan, masker)));
}

describe('the masking stream', () => {
  it('parses COPY headers with quoted identifiers', () => {
    expect(parseCopyHeader('COPY public."Odd ""name""" (id, "Email", note) FROM stdin;')).toEqual({ schema: 'public', table: 'Odd "name"', columns: ['id', 'Email', 'note'] });
    expect(parseCopyHeader('COPY app.t (a) FROM stdin;')).toEqual({ schema: 'app', table: 't', columns: ['a'] });
  });

  it('decodes and encodes COPY text escapes symmetrically', () => {
    const value = 'a\tb\nc\\d\re\bf\fg\vh';
    expect(decodeCopyField(encodeCopyField(value))).toBe(value);
    expect(decodeCopyField('\\x41\\101\\q')).toBe('AAq');
  });

  it('rewrites only the masked columns of the masked table, whatever the chunking, and keeps NULL', async () => {
    const expected = DUMP
      .replace('ann@example.org', masker.apply({ function: 'email', args: {}, unique: false }, 'ann@example.org')!)
      .replace('line one\\nline two\\twith tab \\\\ slash', encodeCopyField(masker.apply({ function: 'redact', args: {}, unique: false }, 'line one\nline two\twith tab \\ slash')!));
    for (const size of [1, 3, 7, 64, 100_000]) {
      const out = await rewrite(DUMP, size);
      expect(out).toBe(expected);
      expect(out).not.toMatch(/ann@example\.org|line one/);
      expect(out).toContain('keep@me.org');
      expect(out).toContain('2\t\\N\t\\N');
    }
  });

  it('passes a dump without masked tables through unchanged, multi-byte characters included', async () => {
    const dump = 'COPY public.t (a) FROM stdin;\nZoë 東京 🙂\n\\.\n';
    expect(await rewrite(dump, 1)).toBe(dump);
  });
});
