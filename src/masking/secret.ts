import { readFile, stat } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';

export const SECRET_ENV = 'AYB_MASKING_SECRET';
/** Shorter secrets let anyone who guesses inputs (a list of emails, say) confirm them by hashing. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The masking secret: AYB_MASKING_SECRET, else the file `[masking] secret_file`, which must be
 * readable by its owner only (mode 0600 or stricter). Never read from the config itself or argv.
 */
export async function readMaskingSecret(secretFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env[SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return checkLength(fromEnv, SECRET_ENV);
  if (secretFile === undefined) {
    throw new UsageError('masking needs a secret, and none is set', {
      hint: `set ${SECRET_ENV}, or [masking] secret_file = "<file>" with a file of mode 0600 (e.g. openssl rand -hex 32 > masking.key && chmod 600 masking.key)`,
    }, 'masking_secret_missing');
  }
  let mode: number;
  try {
    mode = (await stat(secretFile)).mode;
  } catch (error) {
    throw new UsageError(`cannot read the masking secret file ${secretFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      hint: 'check [masking] secret_file (relative paths are relative to ayb.toml)',
    }, 'masking_secret_missing');
  }
  if ((mode & 0o077) !== 0) {
    throw new UsageError(`the masking secret file ${secretFile} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`, {
      hint: `make it private: chmod 600 ${secretFile}`,
    }, 'masking_secret_insecure');
  }
  const text = (await readFile(secretFile, 'utf8')).trim();
  return checkLength(text, secretFile);
}

function checkLength(secret: string, where: string): string {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`the masking secret in ${where} is too short (${secret.length} characters; at least ${MIN_SECRET_LENGTH})`, {
      hint: 'use a long random secret, e.g. openssl rand -hex 32',
    }, 'masking_secret_weak');
  }
  return secret;
}
