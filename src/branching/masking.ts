import { UsageError } from '../core/errors.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { type MaskingJob, prepareMasking } from '../masking/prepare.js';
import { readMaskingSecret } from '../masking/secret.js';
import type { BranchContext } from './context.js';

/**
 * Whether a new copy is masked: asked for (`--masked`, `"masked": true`), or every copy is
 * (`[masking] required`). An unmasked copy asked for outright (`"masked": false`) where every copy is
 * masked is refused, rather than quietly answered with a masked one.
 */
export function wantsMasking(ctx: BranchContext, asked: boolean | undefined): boolean {
  if (asked === false && ctx.config.masking.required) {
    throw new UsageError('this server masks every copy ([masking] required = true), so "masked": false cannot be honoured', {
      hint: 'leave out "masked" (or send true); the copy is masked either way',
    }, 'masking_required');
  }
  return asked === true || ctx.config.masking.required;
}

/** The masking decision of one copy, made once: whether it is masked and, per source, how. */
export interface MaskingDecision {
  readonly masked: boolean;
  /** The job for a copy of `source`: undefined when unmasked, or when the source is masked already. */
  plan(source: { readonly conn: ConnInfo; readonly sameServer: boolean; readonly masked: boolean }): Promise<MaskingJob | undefined>;
}

/** Decides masking for a copy; no rules or no secret is said here, before anything is recorded or copied. */
export async function maskingFor(ctx: BranchContext, asked: boolean | undefined): Promise<MaskingDecision> {
  const masked = wantsMasking(ctx, asked);
  const secret = masked ? await maskingSecret(ctx) : undefined;
  return { masked, plan: async (source) => (secret === undefined ? undefined : maskingJob(ctx, secret, source)) };
}

/** Checks, before anything is recorded, that masking can run at all: rules and a secret. */
async function maskingSecret(ctx: BranchContext): Promise<string> {
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
async function maskingJob(
  ctx: BranchContext,
  secret: string,
  source: { readonly conn: ConnInfo; readonly sameServer: boolean; readonly masked: boolean },
): Promise<MaskingJob | undefined> {
  if (source.masked) return undefined;
  const { masking } = ctx.config;
  return prepareMasking({ rules: masking.rules, secret, source, keep: [...masking.keep, ...masking.ignore], keepCatalog: masking.keep_catalog, log: ctx.log });
}
