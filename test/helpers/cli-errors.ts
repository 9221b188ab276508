import { expect } from 'vitest';
import type { CliResult } from './cli.js';

export interface JsonError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly exit_code: number;
  readonly [key: string]: unknown;
}

/**
 * A failure under --json: the exit code, and on stdout exactly one JSON document that holds only
 * `error` (with its code, message, hint and the same exit code). Returns the error.
 */
export function jsonError(result: CliResult, exitCode: number, code: string | RegExp): JsonError {
  expect(result.exitCode, result.stderr + result.stdout).toBe(exitCode);
  const document = result.json();
  expect(Object.keys(document)).toEqual(['error']);
  const error = document.error as JsonError;
  expect(error.exit_code).toBe(exitCode);
  expect(error.code).toMatch(code);
  expect(error.message).toBeTruthy();
  expect(error.hint).toBeTruthy();
  return error;
}

/** A failure without --json: nothing on stdout; on stderr an `Error:` line, a `Hint:` line, and `message`. */
export function textError(result: CliResult, exitCode: number, message: RegExp): void {
  expect(result.exitCode, result.stderr + result.stdout).toBe(exitCode);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^Error: .+\nHint: .+$/m);
  expect(result.stderr).toMatch(message);
}
