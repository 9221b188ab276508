import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { NotFoundError, UsageError } from '../core/errors.js';
import { closest } from '../core/suggest.js';
import { type ConnInfo, parseConnInfo } from '../postgres/conninfo.js';
import type { ManagedClusterOptions } from '../postgres/managed/index.js';
import { type AybConfig, ConfigSchema } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'ayb.toml';

export interface ConfigInput {
  /** `--config`; when absent `./ayb.toml` is read if it exists. */
  readonly configPath?: string;
  /** `--database-url`. */
  readonly databaseUrl?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export type DatabaseSource = 'flag' | 'env' | 'config' | 'managed';

export interface LoadedConfig {
  readonly config: AybConfig;
  /** The file the config came from, if any. */
  readonly file?: string;
  readonly input: ConfigInput;
}

export interface MainDatabase {
  readonly conn: ConnInfo;
  readonly source: DatabaseSource;
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** Reads and validates the TOML file; reports every invalid key at once (exit 2). */
export async function loadConfig(input: ConfigInput = {}): Promise<LoadedConfig> {
  const cwd = input.cwd ?? process.cwd();
  const explicit = input.configPath !== undefined;
  const file = path.resolve(cwd, expandHome(input.configPath ?? DEFAULT_CONFIG_FILE));
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new UsageError(`cannot read config file ${file}: ${(error as Error).message}`);
    if (explicit) {
      throw new NotFoundError('config_not_found', `config file ${file} does not exist`, {
        hint: 'check the path given to --config, or copy ayb.toml.example to ayb.toml',
      });
    }
  }
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = parseToml(text);
    } catch (error) {
      const { line, column } = error as { line?: number; column?: number };
      const where = line !== undefined ? `:${line}${column !== undefined ? `:${column}` : ''}` : '';
      const reason = (error as Error).message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new UsageError(`invalid TOML in ${file}${where}: ${reason}`, {
        hint: `fix the syntax${line !== undefined ? ` on line ${line}${column !== undefined ? `, column ${column}` : ''}` : ''}; ayb.toml.example shows every key`,
        details: { ...(line !== undefined ? { line } : {}), ...(column !== undefined ? { column } : {}) },
      }, 'invalid_config');
    }
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const unknown = issue.code === 'unrecognized_keys'
        ? ` (${issue.keys.map((k) => {
          const guess = closest(k, knownKeys(issue.path));
          return [key, k].filter(Boolean).join('.') + (guess !== undefined ? `: did you mean ${[key, guess].filter(Boolean).join('.')}?` : '');
        }).join(', ')})`
        : '';
      return `${key || '(top level)'}${ruleLabel(raw, issue.path)}: ${issue.message}${unknown}`;
    });
    throw new UsageError(`invalid config in ${file}: ${problems.join('; ')}`, {
      hint: 'ayb.toml.example documents every key and its type',
      details: { problems },
    }, 'invalid_config');
  }
  const loaded: LoadedConfig = { config: parsed.data, file: text === undefined ? undefined : file, input };
  // Relative to the file it is written in, like every path in ayb.toml.
  const secretFile = parsed.data.masking.secret_file;
  return secretFile ? { ...loaded, config: { ...parsed.data, masking: { ...parsed.data.masking, secret_file: resolvePath(loaded, secretFile) } } } : loaded;
}

/** ` (rule customer.email)` for a problem inside [[masking.rules]], so every bad rule is named. */
function ruleLabel(raw: unknown, issuePath: readonly PropertyKey[]): string {
  if (issuePath[0] !== 'masking' || issuePath[1] !== 'rules' || typeof issuePath[2] !== 'number') return '';
  const rules = (raw as { masking?: { rules?: unknown } }).masking?.rules;
  const rule = Array.isArray(rules) ? (rules[issuePath[2]] as { table?: unknown; column?: unknown } | undefined) : undefined;
  const name = [rule?.table, rule?.column].filter((part) => typeof part === 'string').join('.');
  return name ? ` (rule ${name})` : '';
}

/** The keys the config allows at `path` (top level: the section names). */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let shape: unknown = ConfigSchema;
  for (const segment of path) shape = (shape as { shape?: Record<string, unknown> }).shape?.[String(segment)];
  // Optional sections and defaults wrap the object: unwrap to reach its shape.
  for (let i = 0; i < 5 && shape && !(shape as { shape?: unknown }).shape; i++) {
    const def = (shape as { def?: { innerType?: unknown } }).def;
    shape = def?.innerType;
  }
  return Object.keys((shape as { shape?: Record<string, unknown> } | undefined)?.shape ?? {});
}

/**
 * The main database when one is configured, by precedence: --database-url > AYB_DATABASE_URL >
 * [database] url. Undefined means the managed PostgreSQL (see managedClusterOptions); starting it is
 * the domain's job (branching/context.ts), not the config's.
 */
export function configuredDatabase(loaded: LoadedConfig): MainDatabase | undefined {
  const env = loaded.input.env ?? process.env;
  if (loaded.input.databaseUrl) return { conn: parseConnInfo(loaded.input.databaseUrl), source: 'flag' };
  if (env.AYB_DATABASE_URL) return { conn: parseConnInfo(env.AYB_DATABASE_URL), source: 'env' };
  if (loaded.config.database.url) return { conn: parseConnInfo(loaded.config.database.url), source: 'config' };
  return undefined;
}

/** The managed PostgreSQL as `[managed_pg]` describes it, paths resolved against the config file. */
export function managedClusterOptions(loaded: LoadedConfig): ManagedClusterOptions {
  const managed = loaded.config.managed_pg;
  return {
    dataDir: resolvePath(loaded, managed.data_dir),
    port: managed.port,
    osUser: managed.os_user,
    binDir: managed.bin_dir ? resolvePath(loaded, managed.bin_dir) : undefined,
  };
}

/** Paths in ayb.toml are relative to the file they are written in. */
export function resolvePath(loaded: LoadedConfig, p: string): string {
  const base = loaded.file ? path.dirname(loaded.file) : (loaded.input.cwd ?? process.cwd());
  return path.resolve(base, expandHome(p));
}
