import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { HttpError } from './http-error.js';

/** Admin requests are a few fields; anything larger is refused before it is read. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Reads a JSON body of at most `limit` bytes: 413 when larger, 400 when not JSON. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const tooLarge = () => new HttpError(413, 'payload_too_large', `the request body is larger than ${limit} bytes`, {
    hint: 'admin requests are small JSON objects such as {"name": "dev"}',
  });
  const declared = Number(req.headers['content-length']);
  // Refused unread; the server closes the connection after answering.
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    throw new HttpError(400, 'invalid_body', 'the request body is empty; a JSON object is expected', {
      hint: 'send Content-Type: application/json with a JSON object',
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON', {
      hint: 'send Content-Type: application/json with a JSON object',
    });
  }
}

/** Validates a body against a zod schema; 400 naming every problem and its field. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown, example: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.join('.');
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return `${field || 'body'}: ${issue.message}${keys}`;
  });
  throw new HttpError(400, 'invalid_body', `invalid request body: ${problems.join('; ')}`, { hint: `expected ${example}` });
}
