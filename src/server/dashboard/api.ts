/**
 * The dashboard's calls to the admin API: every request the page makes is here, typed with the
 * server's own answer types (type imports, erased from the bundle).
 *
 * The admin token lives in sessionStorage (gone when the tab closes) and travels only in the
 * Authorization header, so no cookie can be replayed by another site.
 */
import type { MergeResult } from '../../branching/merge.js';
import type { servedTables } from '../../branching/serving.js';
import type { TableDataChange } from '../../datadiff/data-diff.js';
import type { BranchJson } from '../../output/branch-view.js';

/** One table of GET /api/admin/database. */
export type TableInfo = Awaited<ReturnType<typeof servedTables>>[number];

/** GET /api/admin/branches/<name>/data-diff, as `ayb branch diff --data --json`. */
export interface DataDiff {
  readonly from: string;
  readonly to: string;
  readonly tables: readonly TableDataChange[];
  readonly only_in_from: readonly string[];
  readonly only_in_to: readonly string[];
}

/** GET /health. */
export interface Health {
  readonly status: string;
  readonly database: string;
  readonly branch: string | null;
}

export type RecordKind = 'branch' | 'snapshot';
export type { BranchJson, MergeResult, TableDataChange };

interface ApiErrorBody {
  code?: string;
  message?: string;
  hint?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    /** Already dealt with (an ended session sends the user back to the login). */
    readonly handled = false,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'ayb.admin.token';

const plural = (kind: RecordKind) => (kind === 'branch' ? 'branches' : 'snapshots');
const branchPath = (name: string, action: string) => `/api/admin/branches/${encodeURIComponent(name)}/${action}`;

/** The admin API for one page; `onSessionEnded` runs when the server no longer accepts the token. */
export function adminApi(onSessionEnded: (message: string) => void) {
  let token = sessionStorage.getItem(TOKEN_KEY);

  const forget = () => {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  };

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = (await response.json().catch(() => ({}))) as unknown;
    if (!response.ok) {
      const error = data as ApiErrorBody;
      const sessionEnded = response.status === 401 && path !== '/api/admin/auth';
      if (sessionEnded) {
        forget();
        onSessionEnded('Your session has ended; log in again.');
      }
      throw new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? response.statusText, error.hint, sessionEnded);
    }
    return data as T;
  }

  return {
    loggedIn: () => token !== null,
    async logIn(password: string): Promise<void> {
      const result = await call<{ token: string }>('POST', '/api/admin/auth', { password });
      token = result.token;
      sessionStorage.setItem(TOKEN_KEY, token);
    },
    logOut: forget,
    health: () => fetch('/health').then((r) => r.json() as Promise<Health>),

    /**
     * Branches and snapshots, and the main database's name; with their sizes only when asked (sizing
     * walks every database's files, so the list is drawn first and the sizes filled in after).
     */
    async records(sizes: boolean): Promise<{ branches: BranchJson[]; snapshots: BranchJson[]; mainDatabase: string }> {
      const query = sizes ? '?sizes=true' : '';
      const [{ branches, main_database }, { snapshots }] = await Promise.all([
        call<{ branches: BranchJson[]; main_database: string }>('GET', `/api/admin/branches${query}`),
        call<{ snapshots: BranchJson[] }>('GET', `/api/admin/snapshots${query}`),
      ]);
      return { branches, snapshots, mainDatabase: main_database };
    },
    database: () => call<{ database: string; tables: TableInfo[] }>('GET', '/api/admin/database'),
    create: (kind: RecordKind, body: { name: string } & Record<string, string | boolean>) => call<BranchJson>('POST', `/api/admin/${plural(kind)}`, body),
    /** A failed or half-made one can only go with force, as with `ayb branch delete --force`. */
    remove: (kind: RecordKind, name: string, force: boolean) => call<unknown>('DELETE', `/api/admin/${plural(kind)}/${encodeURIComponent(name)}${force ? '?force=true' : ''}`),
    url: (name: string) => call<{ url: string }>('GET', branchPath(name, 'url')),
    schemaDiff: (name: string) => call<{ text: string; sql: string }>('GET', `/api/admin/diff?from=main&to=${encodeURIComponent(name)}`),
    dataDiff: (name: string) => call<DataDiff>('GET', branchPath(name, 'data-diff')),
    reset: (name: string, to: string) => call<BranchJson>('POST', branchPath(name, 'reset'), to ? { to } : {}),
    expire: (name: string, body: { never: true } | { ttl: string }) => call<BranchJson>('POST', branchPath(name, 'expire'), body),
    merge: (name: string, body: { dry_run: true } | { strategy?: 'ours' }) => call<MergeResult>('POST', branchPath(name, 'merge'), body),
  };
}

export type AdminApi = ReturnType<typeof adminApi>;
