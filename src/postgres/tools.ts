import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';
import { ExternalError } from '../core/errors.js';

export type ToolName = 'pg_dump' | 'psql' | 'pg_basebackup' | 'pg_archivecleanup';

export interface Tool {
  readonly name: ToolName;
  readonly path: string;
  readonly major: number;
  readonly version: string;
}

const INSTALL_HINT =
  'install the PostgreSQL client tools (Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq), ' +
  'or set [tools] pg_bin_dir in ayb.toml to the folder that has them';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Candidate folders, in order: the configured one, PATH, then Debian's versioned folders (newest first). */
function candidateDirs(binDir: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (binDir) return [binDir];
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // No Debian layout here.
  }
  return dirs;
}

/**
 * The environment of a pg_dump or psql child: the caller's, less ayb's own settings (`AYB_*`, such
 * as AYB_DATABASE_URL, may hold passwords the tool has no business seeing), plus `extra` (the
 * libpq variables, PGPASSWORD among them, of the one connection this child makes).
 */
export function toolEnv(extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const cleaned: Record<string, string | undefined> = {};
  for (const key of Object.keys(env)) if (key.startsWith('AYB_')) cleaned[key] = undefined;
  return { ...cleaned, ...extra };
}

export async function toolVersion(file: string): Promise<{ major: number; version: string }> {
  // Loaded on first use, so that commands which start no tool do not pay for it at startup.
  const { execa } = await import('execa');
  const result = await execa(file, ['--version'], { reject: false, timeout: 10_000, env: toolEnv() });
  const match = /(\d+)(?:\.(\d+))?/.exec(String(result.stdout ?? ''));
  if (result.exitCode !== 0 || !match) {
    throw new ExternalError('tool_broken', `${file} --version failed`, { hint: INSTALL_HINT });
  }
  return { major: Number(match[1]), version: match[0] };
}

/**
 * Finds a client tool able to talk to a server of `serverMajor`: pg_dump refuses servers newer than
 * itself, so a PATH pg_dump that is too old is passed over for a newer one in Debian's versioned
 * folders before giving up with both versions named.
 */
export async function findTool(name: ToolName, serverMajor: number, options: { binDir?: string; env?: NodeJS.ProcessEnv; serverVersion?: string } = {}): Promise<Tool> {
  const env = options.env ?? process.env;
  const seen = new Set<string>();
  let tooOld: Tool | undefined;
  for (const dir of candidateDirs(options.binDir, env)) {
    const file = path.join(dir, name);
    if (seen.has(file) || !isExecutable(file)) continue;
    seen.add(file);
    const { major, version } = await toolVersion(file);
    const tool: Tool = { name, path: file, major, version };
    if (major >= serverMajor) return tool;
    tooOld ??= tool;
  }
  if (tooOld) {
    throw new ExternalError(
      'tool_version_mismatch',
      `${name} ${tooOld.version} (${tooOld.path}) is older than the server (PostgreSQL ${options.serverVersion ?? serverMajor}); ${name} cannot work with a newer server`,
      { hint: `install PostgreSQL ${serverMajor} client tools (Debian/Ubuntu: apt-get install postgresql-client-${serverMajor}) or set [tools] pg_bin_dir` },
    );
  }
  throw new ExternalError('tool_missing', `${name} was not found${options.binDir ? ` in ${options.binDir}` : ' on PATH'}`, { hint: INSTALL_HINT });
}
