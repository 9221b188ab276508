/**
 * The admin dashboard, in the browser. Compiled by tsc like the rest of ayb and served as
 * /admin/app.js; it imports nothing at run time (the type import below is erased).
 *
 * The admin token lives in sessionStorage (gone when the tab closes) and travels only in the
 * Authorization header, so no cookie can be replayed by another site. All text reaches the page
 * through textContent, never as HTML.
 */
import type { BranchJson } from '../../output/branch-view.js';

interface ApiErrorBody {
  code?: string;
  message?: string;
  hint?: string;
}

interface TableInfo {
  schema: string;
  name: string;
  rows: number | null;
  exact: boolean;
  size_bytes: number;
}

class ApiError extends Error {
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
const POLL_MS = 1000;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
}

const ui = {
  served: byId<HTMLParagraphElement>('served'),
  logout: byId<HTMLButtonElement>('logout'),
  error: byId<HTMLDivElement>('error'),
  notice: byId<HTMLDivElement>('notice'),
  loginView: byId<HTMLElement>('login-view'),
  loginForm: byId<HTMLFormElement>('login-form'),
  password: byId<HTMLInputElement>('password'),
  appView: byId<HTMLElement>('app-view'),
  createForm: byId<HTMLFormElement>('create-form'),
  branchName: byId<HTMLInputElement>('branch-name'),
  branchFrom: byId<HTMLSelectElement>('branch-from'),
  createButton: byId<HTMLButtonElement>('create-button'),
  branchRows: byId<HTMLTableElement>('branches').tBodies[0]!,
  branchesEmpty: byId<HTMLParagraphElement>('branches-empty'),
  databaseName: byId<HTMLElement>('database-name'),
  tableRows: byId<HTMLTableElement>('tables').tBodies[0]!,
  tablesEmpty: byId<HTMLParagraphElement>('tables-empty'),
  refreshTables: byId<HTMLButtonElement>('refresh-tables'),
  confirm: byId<HTMLDialogElement>('confirm-delete'),
  confirmText: byId<HTMLParagraphElement>('confirm-text'),
};

let token = sessionStorage.getItem(TOKEN_KEY);
let servedBranch: string | null = null;
let pendingCreates = 0;
let pollTimer: number | undefined;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = (await response.json().catch(() => ({}))) as unknown;
  if (!response.ok) {
    const error = data as ApiErrorBody;
    const sessionEnded = response.status === 401 && path !== '/api/admin/auth';
    if (sessionEnded) signOut('Your session has ended; log in again.');
    throw new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? response.statusText, error.hint, sessionEnded);
  }
  return data as T;
}

function showError(error: unknown): void {
  if (error instanceof ApiError && error.handled) return;
  const text = error instanceof ApiError
    ? `${error.message}${error.hint ? `\nHint: ${error.hint}` : ''}`
    : `Cannot reach the ayb server: ${error instanceof Error ? error.message : String(error)}`;
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearMessages(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
  ui.notice.textContent = '';
}

function notice(text: string): void {
  ui.notice.textContent = text;
}

function signOut(message?: string): void {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  window.clearTimeout(pollTimer);
  ui.appView.hidden = true;
  ui.logout.hidden = true;
  ui.loginView.hidden = false;
  if (message) notice(message);
  ui.password.focus();
}

async function showApp(): Promise<void> {
  ui.loginView.hidden = true;
  ui.appView.hidden = false;
  ui.logout.hidden = false;
  await Promise.all([refreshBranches(), refreshTables()]);
}

/** As formatBytes in src/output/writer.ts (which this browser module cannot import), so sizes read alike. */
function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderBranches(branches: readonly BranchJson[]): void {
  ui.branchRows.replaceChildren();
  for (const branch of branches) {
    const row = ui.branchRows.insertRow();
    row.dataset.branch = branch.name;
    const name = cell(row, branch.name);
    if (branch.name === servedBranch) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'served';
      name.append(tag);
    }
    if (branch.masked) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'masked';
      tag.title = 'made with the masking rules applied';
      name.append(tag);
    }
    const status = row.insertCell();
    const badge = document.createElement('span');
    badge.className = `badge badge-${branch.status}`;
    badge.textContent = branch.status;
    if (branch.error_message) badge.title = branch.error_message;
    status.append(badge);
    cell(row, branch.parent ?? branch.source_database);
    cell(row, branch.strategy ?? '-');
    cell(row, formatBytes(branch.size_bytes));
    cell(row, new Date(branch.created_at).toLocaleString()).title = branch.created_at;
    const expires = cell(row, branch.expires_at ? new Date(branch.expires_at).toLocaleString() : 'never');
    if (branch.expires_at) expires.title = branch.expires_at;
    const actions = row.insertCell();
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete branch ${branch.name}`);
    remove.disabled = branch.name === servedBranch;
    if (remove.disabled) remove.title = 'This server serves this branch';
    remove.addEventListener('click', () => void confirmDelete(branch));
    actions.append(remove);
  }
  ui.branchesEmpty.hidden = branches.length > 0;

  const selected = ui.branchFrom.value;
  const sources = ['main', ...branches.filter((b) => b.status === 'ready').map((b) => b.name)];
  ui.branchFrom.replaceChildren(...sources.map((source) => new Option(source, source)));
  ui.branchFrom.value = sources.includes(selected) ? selected : 'main';
}

async function refreshBranches(): Promise<void> {
  const { branches } = await api<{ branches: BranchJson[] }>('GET', '/api/admin/branches');
  renderBranches(branches);
  // While a create runs (here or elsewhere), keep the view current so its status changes show.
  window.clearTimeout(pollTimer);
  if (pendingCreates > 0 || branches.some((b) => b.status === 'creating')) {
    pollTimer = window.setTimeout(() => void refreshBranches().catch(showError), POLL_MS);
  }
}

async function refreshTables(): Promise<void> {
  const { database, tables } = await api<{ database: string; tables: TableInfo[] }>('GET', '/api/admin/database');
  ui.databaseName.textContent = database;
  ui.tableRows.replaceChildren();
  for (const table of tables) {
    const row = ui.tableRows.insertRow();
    cell(row, `${table.schema}.${table.name}`);
    const rows = table.rows === null ? '?' : table.rows.toLocaleString();
    const count = cell(row, table.exact || table.rows === null ? rows : `~${rows}`, 'num');
    if (!table.exact) count.title = 'estimate from PostgreSQL statistics';
    cell(row, formatBytes(table.size_bytes), 'num');
  }
  ui.tablesEmpty.hidden = tables.length > 0;
}

async function createBranch(name: string, from: string): Promise<void> {
  pendingCreates++;
  const create = api<BranchJson>('POST', '/api/admin/branches', { name, from });
  notice(`Creating branch "${name}" …`);
  // Show the new row (status creating) as soon as the server has recorded it.
  void refreshBranches().catch(() => undefined);
  try {
    const branch = await create;
    notice(`Created branch "${branch.name}" (${branch.strategy ?? 'copy'}).`);
    ui.branchName.value = '';
  } catch (error) {
    notice('');
    throw error;
  } finally {
    pendingCreates--;
    await refreshBranches().catch(showError);
  }
}

async function confirmDelete(branch: BranchJson): Promise<void> {
  clearMessages();
  ui.confirmText.textContent = `Branch "${branch.name}" and its database ${branch.branch_database} will be dropped. This cannot be undone.`;
  ui.confirm.returnValue = '';
  ui.confirm.showModal();
  await new Promise<void>((resolve) => ui.confirm.addEventListener('close', () => resolve(), { once: true }));
  if (ui.confirm.returnValue !== 'delete') return;
  try {
    // A failed or half-made branch can only go with force, as with `ayb branch delete --force`.
    const force = branch.status === 'ready' ? '' : '?force=true';
    await api('DELETE', `/api/admin/branches/${encodeURIComponent(branch.name)}${force}`);
    notice(`Deleted branch "${branch.name}".`);
  } catch (error) {
    showError(error);
  }
  await refreshBranches().catch(showError);
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearMessages();
  void (async () => {
    try {
      const result = await api<{ token: string }>('POST', '/api/admin/auth', { password: ui.password.value });
      token = result.token;
      sessionStorage.setItem(TOKEN_KEY, token);
      ui.password.value = '';
      await showApp();
    } catch (error) {
      showError(error);
    }
  })();
});

ui.createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearMessages();
  ui.createButton.disabled = true;
  createBranch(ui.branchName.value.trim(), ui.branchFrom.value)
    .catch(showError)
    .finally(() => {
      ui.createButton.disabled = false;
    });
});

ui.refreshTables.addEventListener('click', () => {
  clearMessages();
  refreshTables().catch(showError);
});

ui.logout.addEventListener('click', () => {
  clearMessages();
  signOut('Logged out.');
});

async function start(): Promise<void> {
  try {
    const health = await fetch('/health').then((r) => r.json() as Promise<{ status: string; database: string; branch: string | null }>);
    servedBranch = health.branch;
    ui.served.textContent = `Serving ${health.database}${health.branch ? ` (branch ${health.branch})` : ' (main)'}${health.status === 'ok' ? '' : ' — unavailable'}`;
  } catch (error) {
    showError(error);
  }
  if (!token) {
    signOut();
    return;
  }
  await showApp().catch(showError);
}

void start();
