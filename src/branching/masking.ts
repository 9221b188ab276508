import { UsageError } from '../core/errors.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { type MaskingJob, prepareMasking } from '../masking/prepare.js';
import { readMaskingSecret } from '../masking/secret.js';
import type { BranchContext } from './context.js';

/** Whether a new copy is masked: asked for (`--masked`), or every copy is (`[masking] required`). */
export function wantsMasking(ctx: BranchContext, asked: boolean | undefined): boolean {
  return asked === true || ctx.config.masking.required;
}

/** Checks, before anything is recorded, that masking can run at all: rules and a secret. */
export async function maskingSecret(ctx: BranchContext): Promise<string> {
  if (ctx.config.masking.rules.length === 0) {
    throw new UsageError('a masked copy (--masked, "masked": true in the admin API) needs masking rules, and ayb.toml has none', {
      hint: 'add [[masking.rules]] (table, column, function) to ayb.toml; ayb mask check suggests the columns; ayb.toml.example shows the format',
    }, 'masking_no_rules');
  }
  return readMaskingSecret(ctx.config.masking.secret_file);
}

/**
 * How a copy from `source` is masked. A copy of a branch or snapshot that is itself masked is
 * masked already: it is left as it is (masking it again would change every value once more).
 */
export async function maskingJob(
  ctx: BranchContext,
  secret: string,
  source: { readonly conn: ConnInfo; readonly sameServer: boolean; readonly masked: boolean },
): Promise<MaskingJob | undefined> {
  if (source.masked) return undefined;
  const { masking } = ctx.config;
  return prepareMasking({ rules: masking.rules, secret, source, keep: [...masking.keep, ...masking.ignore], keepCatalog: masking.keep_catalog, log: ctx.log });
}
