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

/** One table of GET /api/admin/branches/<name>/data-diff, as `ayb branch diff --data --json`. */
interface TableDataChange {
  table: string;
  key: string[] | null;
  match: 'primary_key' | 'unique_index' | 'rows';
  added: number;
  removed: number;
  changed: number;
  columns_differ?: true;
}

interface DataDiff {
  from: string;
  to: string;
  tables: TableDataChange[];
  only_in_from: string[];
  only_in_to: string[];
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
  branchTtl: byId<HTMLInputElement>('branch-ttl'),
  branchAt: byId<HTMLInputElement>('branch-at'),
  branchAtParts: document.querySelectorAll<HTMLElement>('.at-moment'),
  branchMasked: byId<HTMLInputElement>('branch-masked'),
  createButton: byId<HTMLButtonElement>('create-button'),
  branchRows: byId<HTMLTableElement>('branches').tBodies[0]!,
  branchesEmpty: byId<HTMLParagraphElement>('branches-empty'),
  diffView: byId<HTMLElement>('diff-view'),
  diffTitle: byId<HTMLElement>('diff-title'),
  diffText: byId<HTMLPreElement>('diff-text'),
  diffChanges: byId<HTMLButtonElement>('diff-changes'),
  diffSql: byId<HTMLButtonElement>('diff-sql'),
  diffClose: byId<HTMLButtonElement>('diff-close'),
  dataView: byId<HTMLElement>('data-view'),
  dataTitle: byId<HTMLElement>('data-title'),
  dataSummary: byId<HTMLParagraphElement>('data-summary'),
  dataRows: byId<HTMLTableElement>('data-tables').tBodies[0]!,
  dataTablesWrap: byId<HTMLDivElement>('data-tables-wrap'),
  dataNotes: byId<HTMLParagraphElement>('data-notes'),
  dataAgain: byId<HTMLButtonElement>('data-again'),
  dataClose: byId<HTMLButtonElement>('data-close'),
  snapshotForm: byId<HTMLFormElement>('snapshot-form'),
  snapshotName: byId<HTMLInputElement>('snapshot-name'),
  snapshotOf: byId<HTMLSelectElement>('snapshot-of'),
  snapshotAt: byId<HTMLInputElement>('snapshot-at'),
  snapshotAtParts: document.querySelectorAll<HTMLElement>('.snapshot-at-moment'),
  snapshotMasked: byId<HTMLInputElement>('snapshot-masked'),
  snapshotButton: byId<HTMLButtonElement>('snapshot-button'),
  databaseName: byId<HTMLElement>('database-name'),
  tableRows: byId<HTMLTableElement>('tables').tBodies[0]!,
  tablesEmpty: byId<HTMLParagraphElement>('tables-empty'),
  refreshTables: byId<HTMLButtonElement>('refresh-tables'),
  confirm: byId<HTMLDialogElement>('confirm-dialog'),
  confirmTitle: byId<HTMLElement>('confirm-title'),
  confirmText: byId<HTMLParagraphElement>('confirm-text'),
  confirmOk: byId<HTMLButtonElement>('confirm-ok'),
  reset: byId<HTMLDialogElement>('reset-dialog'),
  resetTitle: byId<HTMLElement>('reset-title'),
  resetText: byId<HTMLParagraphElement>('reset-text'),
  resetTo: byId<HTMLSelectElement>('reset-to'),
  expiry: byId<HTMLDialogElement>('expiry-dialog'),
  expiryTitle: byId<HTMLElement>('expiry-title'),
  expiryText: byId<HTMLParagraphElement>('expiry-text'),
  expiryTtl: byId<HTMLInputElement>('expiry-ttl'),
};

let token = sessionStorage.getItem(TOKEN_KEY);
let servedBranch: string | null = null;
/** The main database's name: records name it in source_database, the page says main. */
let mainDatabase: string | null = null;
let pendingCreates = 0;
let diff: { to: string; text: string; sql: string; showing: 'text' | 'sql' } | undefined;
let pollTimer: number | undefined;
/** The branch whose data changes are shown, and a counter so that only the latest comparison is drawn. */
let dataOf: string | undefined;
let dataRequest = 0;
/** The ready snapshots, for the Reset dialog's "Reset to". */
let readySnapshots: string[] = [];
/** The From option for `main@<time>`: its moment is typed in #branch-at. */
const AT_MOMENT = 'main@';

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

function cell(row: HTMLTableRowElement, text: string, label: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  td.dataset.label = label;
  if (className) td.className = className;
  return td;
}

function button(text: string, ariaLabel: string, onClick: () => void, className = 'secondary small'): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', onClick);
  return b;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-02 14:05`: ISO order, 24-hour clock, the browser's time zone (the full UTC time is the cell's title). */
function formatTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** As formatDuration in src/core/duration.ts: the two largest units, `1d 23h`, `5m 3s`; months and years from 60 days on. */
function formatDuration(ms: number): string {
  const days = Math.floor(Math.abs(ms) / 86_400_000);
  if (days >= 60) {
    const years = Math.floor(days / 365);
    const months = Math.floor((days - years * 365) / 30);
    const rest = days - years * 365 - months * 30;
    return (years > 0 ? [`${years}y`, months > 0 ? `${months}mo` : ''] : [`${months}mo`, rest > 0 ? `${rest}d` : '']).filter(Boolean).join(' ');
  }
  let rest = Math.floor(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (parts.length === 0 && amount === 0) continue;
    if (amount > 0) parts.push(`${amount}${unit}`);
    if (parts.length === 2 || (parts.length === 1 && amount === 0)) break;
  }
  return parts.join(' ') || '0s';
}

/** As expiresIn in src/output/branch-view.ts: `never`, `in 2d 3h`, `expired 5m ago`. */
function expiresIn(iso: string | null): string {
  if (!iso) return 'never';
  const left = Date.parse(iso) - Date.now();
  return left > 0 ? `in ${formatDuration(left)}` : `expired ${formatDuration(-left)} ago`;
}

function statusCell(row: HTMLTableRowElement, record: BranchJson): void {
  const status = row.insertCell();
  status.dataset.label = 'Status';
  const badge = document.createElement('span');
  // A record whose database is gone or invalid reads as failed: connecting to it fails.
  badge.className = `badge badge-${record.problem ? 'failed' : record.status}`;
  badge.textContent = record.problem ? `${record.status} (${record.problem.replace('database_', 'database ')})` : record.status;
  if (record.error_message) badge.title = record.error_message;
  status.append(badge);
}

function timeCells(row: HTMLTableRowElement, record: BranchJson): void {
  cell(row, formatTime(record.created_at), 'Created').title = record.created_at;
  const expires = cell(row, expiresIn(record.expires_at), 'Expires');
  if (record.expires_at) {
    expires.title = record.expires_at;
    if (Date.parse(record.expires_at) <= Date.now()) expires.classList.add('expired');
  }
}

type Row = { record: BranchJson; depth: number; last: boolean };

/**
 * Branches and snapshots in one tree, as `ayb branch list --tree`: a branch under the branch or
 * snapshot it was made from, a snapshot under the branch it froze, the rest (made from main or
 * elsewhere) at the top; oldest first among siblings.
 */
function treeOrder(records: readonly BranchJson[]): Row[] {
  const names = new Set(records.map((r) => r.name));
  const byDatabase = new Map(records.map((r) => [r.branch_database, r.name]));
  const parentOf = (r: BranchJson): string | null => {
    if (r.parent !== null && names.has(r.parent)) return r.parent;
    if (r.kind === 'snapshot') return byDatabase.get(r.source_database) ?? null;
    return null;
  };
  const sorted = [...records].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name));
  const children = new Map<string | null, BranchJson[]>();
  for (const r of sorted) {
    const parent = parentOf(r);
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out: Row[] = [];
  const seen = new Set<string>();
  const visit = (parent: string | null, depth: number) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, i) => {
      if (seen.has(r.name)) return;
      seen.add(r.name);
      out.push({ record: r, depth, last: i === list.length - 1 });
      visit(r.name, depth + 1);
    });
  };
  visit(null, 0);
  return out;
}

/** What a record was made from, as the user names it: its parent, main, or the database or URL recorded. */
function parentName(record: BranchJson): string {
  return record.parent ?? (record.source_database === mainDatabase ? 'main' : record.source_database);
}

function tag(text: string, title?: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'tag';
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

function nameCell(row: HTMLTableRowElement, { record, depth, last }: Row): void {
  const name = cell(row, '', 'Name', 'name');
  if (depth > 0) {
    const tree = document.createElement('span');
    tree.className = 'tree';
    tree.textContent = `${'   '.repeat(depth - 1)}${last ? '└─ ' : '├─ '}`;
    name.append(tree);
  }
  name.append(record.name);
  if (record.kind === 'snapshot') name.append(tag('snapshot', 'a frozen copy: branch from it, or reset a branch to it'));
  // At the top of the tree, a record not made from main says what it was made from.
  if (depth === 0 && record.parent === null && record.source_database !== mainDatabase) {
    name.append(tag(`from ${record.source_database}`, `made from ${record.source_database}`));
  }
  if (record.name === servedBranch) name.append(tag('served'));
  if (record.masked) name.append(tag('masked', 'made with the masking rules applied'));
}

function renderRecords(records: readonly BranchJson[]): void {
  ui.branchRows.replaceChildren();
  for (const item of treeOrder(records)) {
    const row = ui.branchRows.insertRow();
    if (item.record.kind === 'snapshot') {
      row.dataset.snapshot = item.record.name;
      row.className = 'snapshot';
      nameCell(row, item);
      snapshotCells(row, item.record);
    } else {
      row.dataset.branch = item.record.name;
      nameCell(row, item);
      branchCells(row, item.record);
    }
  }
  ui.branchesEmpty.hidden = records.length > 0;
}

function branchCells(row: HTMLTableRowElement, branch: BranchJson): void {
  statusCell(row, branch);
  cell(row, formatBytes(branch.size_bytes), 'Size', 'num');
  timeCells(row, branch);

  const connection = cell(row, '', 'Connection', 'connection');
  if (branch.url) {
    const code = document.createElement('code');
    // Right-to-left only so that the cut falls at the start; the URL itself reads left to right.
    const url = document.createElement('bdi');
    url.dir = 'ltr';
    url.textContent = branch.url;
    code.append(url);
    code.title = branch.url;
    connection.append(code, button('Copy', `Copy connection URL of ${branch.name}`, () => void copyUrl(branch.name).catch(showError)));
  } else {
    connection.textContent = '-';
  }

  const actions = cell(row, '', 'Actions', 'actions');
  const ready = branch.status === 'ready';
  const served = branch.name === servedBranch;
  const diffButton = button('Diff', `Diff branch ${branch.name}`, () => void showDiff(branch.name).catch(showError));
  const dataButton = button('Data', `Data changes of branch ${branch.name}`, () => void showDataChanges(branch.name).catch(showError));
  const resetButton = button('Reset', `Reset branch ${branch.name}`, () => void confirmReset(branch));
  const mergeButton = button('Merge', `Merge branch ${branch.name} into its parent`, () => void confirmMerge(branch));
  mergeButton.disabled = !ready;
  const expiryButton = button('Expiry', `Set expiry of branch ${branch.name}`, () => void editExpiry(branch));
  const remove = button('Delete', `Delete branch ${branch.name}`, () => void confirmDelete(branch, 'branch'));
  diffButton.disabled = !ready;
  const comparable = branch.parent !== null || branch.source_database === mainDatabase;
  dataButton.disabled = !ready || !comparable;
  if (!comparable) dataButton.title = `Copied from ${branch.source_database}: there is no parent here to compare its rows with`;
  resetButton.disabled = !ready || served;
  remove.disabled = served;
  if (served) resetButton.title = remove.title = 'This server serves this branch';
  actions.append(diffButton, dataButton, mergeButton, resetButton, expiryButton, remove);
}

function snapshotCells(row: HTMLTableRowElement, snapshot: BranchJson): void {
  statusCell(row, snapshot);
  cell(row, formatBytes(snapshot.size_bytes), 'Size', 'num');
  timeCells(row, snapshot);
  const connection = cell(row, '-', 'Connection', 'connection');
  connection.title = 'nobody connects to a snapshot: make a branch of it';
  const actions = cell(row, '', 'Actions', 'actions');
  const branchFrom = button('New branch', `New branch from snapshot ${snapshot.name}`, () => {
    ui.branchFrom.value = snapshot.name;
    showMomentField();
    ui.branchName.focus();
    notice(`Name the new branch of snapshot "${snapshot.name}" and press Create branch.`);
  });
  branchFrom.disabled = snapshot.status !== 'ready';
  actions.append(branchFrom, button('Delete', `Delete snapshot ${snapshot.name}`, () => void confirmDelete(snapshot, 'snapshot')));
}

/** The sources a branch can be made from (main, main at a moment, ready branches, ready snapshots) and what a snapshot can be of. */
function renderSources(branches: readonly BranchJson[], snapshots: readonly BranchJson[]): void {
  const readyBranches = branches.filter((b) => b.status === 'ready').map((b) => b.name);
  readySnapshots = snapshots.filter((s) => s.status === 'ready').map((s) => s.name);
  const fill = (select: HTMLSelectElement, withSnapshots: boolean) => {
    const selected = select.value;
    const options: HTMLElement[] = [new Option('main', 'main'), new Option('main at a past moment …', AT_MOMENT)];
    if (readyBranches.length > 0) {
      const group = document.createElement('optgroup');
      group.label = 'Branches';
      group.append(...readyBranches.map((n) => new Option(n, n)));
      options.push(group);
    }
    if (withSnapshots && readySnapshots.length > 0) {
      const group = document.createElement('optgroup');
      group.label = 'Snapshots';
      group.append(...readySnapshots.map((n) => new Option(`${n} (snapshot)`, n)));
      options.push(group);
    }
    select.replaceChildren(...options);
    const all = ['main', AT_MOMENT, ...readyBranches, ...(withSnapshots ? readySnapshots : [])];
    select.value = all.includes(selected) ? selected : 'main';
  };
  fill(ui.branchFrom, true);
  fill(ui.snapshotOf, false);
  showMomentField();
}

async function refreshBranches(): Promise<void> {
  const [{ branches, main_database }, { snapshots }] = await Promise.all([
    api<{ branches: BranchJson[]; main_database: string }>('GET', '/api/admin/branches'),
    api<{ snapshots: BranchJson[] }>('GET', '/api/admin/snapshots?sizes=true'),
  ]);
  mainDatabase = main_database;
  renderRecords([...branches, ...snapshots]);
  renderSources(branches, snapshots);
  // While a create runs (here or elsewhere), keep the view current so its status changes show.
  window.clearTimeout(pollTimer);
  if (pendingCreates > 0 || [...branches, ...snapshots].some((b) => b.status === 'creating')) {
    pollTimer = window.setTimeout(() => void refreshBranches().catch(showError), POLL_MS);
  }
}

async function refreshTables(): Promise<void> {
  const { database, tables } = await api<{ database: string; tables: TableInfo[] }>('GET', '/api/admin/database');
  ui.databaseName.textContent = database;
  ui.tableRows.replaceChildren();
  for (const table of tables) {
    const row = ui.tableRows.insertRow();
    cell(row, `${table.schema}.${table.name}`, 'Table');
    const rows = table.rows === null ? '?' : table.rows.toLocaleString('en-US');
    const count = cell(row, table.exact || table.rows === null ? rows : `~${rows}`, 'Rows', 'num');
    if (!table.exact) count.title = 'estimate from PostgreSQL statistics';
    cell(row, formatBytes(table.size_bytes), 'Size', 'num');
  }
  ui.tablesEmpty.hidden = tables.length > 0;
}

/** Creates a branch or a snapshot; its row shows `creating` until the copy is done. */
async function createRecord(kind: 'branch' | 'snapshot', body: { name: string } & Record<string, string | boolean>): Promise<BranchJson> {
  pendingCreates++;
  const create = api<BranchJson>('POST', kind === 'branch' ? '/api/admin/branches' : '/api/admin/snapshots', body);
  notice(`Creating ${kind} "${body.name}" …`);
  // Show the new row (status creating) as soon as the server has recorded it.
  void refreshBranches().catch(() => undefined);
  try {
    const record = await create;
    notice(`Created ${kind} "${record.name}" (${record.strategy ?? 'copy'}).`);
    return record;
  } catch (error) {
    notice('');
    throw error;
  } finally {
    pendingCreates--;
    await refreshBranches().catch(showError);
  }
}

async function copyUrl(name: string): Promise<void> {
  clearMessages();
  const { url } = await api<{ url: string }>('GET', `/api/admin/branches/${encodeURIComponent(name)}/url`);
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    // No clipboard API (plain http on another host than localhost): the old way, through a selection.
    const area = document.createElement('textarea');
    area.value = url;
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    if (!copied) throw new Error('the browser refused to copy; run: ayb branch url ' + name);
  }
  notice(`Copied the connection URL of "${name}" (password included): psql "<paste>"`);
}

async function showDiff(name: string): Promise<void> {
  clearMessages();
  notice(`Comparing main with "${name}" …`);
  const result = await api<{ text: string; sql: string }>('GET', `/api/admin/diff?from=main&to=${encodeURIComponent(name)}`);
  diff = { to: name, text: result.text, sql: result.sql, showing: 'text' };
  notice('');
  renderDiff();
  ui.diffView.hidden = false;
  ui.diffView.scrollIntoView({ block: 'nearest' });
}

const MATCH_LABEL: Record<TableDataChange['match'], string> = { primary_key: 'primary key', unique_index: 'unique index', rows: 'whole rows' };

/** The rows of a branch against its parent's, on request only: the server reads every table of both. */
async function showDataChanges(name: string): Promise<void> {
  clearMessages();
  const request = ++dataRequest;
  dataOf = name;
  ui.dataTitle.textContent = `Data changes: ${name}`;
  ui.dataSummary.textContent = `Comparing the rows of "${name}" with its parent …`;
  ui.dataRows.replaceChildren();
  ui.dataTablesWrap.hidden = true;
  ui.dataNotes.textContent = '';
  ui.dataAgain.disabled = true;
  ui.dataView.hidden = false;
  ui.dataView.scrollIntoView({ block: 'nearest' });
  try {
    const result = await api<DataDiff>('GET', `/api/admin/branches/${encodeURIComponent(name)}/data-diff`);
    if (request === dataRequest) renderDataChanges(result);
  } catch (error) {
    if (request === dataRequest) {
      ui.dataView.hidden = true;
      dataOf = undefined;
    }
    throw error;
  } finally {
    if (request === dataRequest) ui.dataAgain.disabled = false;
  }
}

function renderDataChanges(result: DataDiff): void {
  ui.dataTitle.textContent = `Data changes: ${result.from} → ${result.to}`;
  const differing = result.tables.filter((t) => t.added + t.removed + t.changed > 0);
  const same = result.tables.length - differing.length;
  ui.dataSummary.textContent = differing.length === 0
    ? `No data differences between ${result.from} and ${result.to} (${result.tables.length} table(s) compared).`
    : `${differing.length} table(s) differ${same > 0 ? `; ${same} other table(s) identical` : ''}.`;
  ui.dataRows.replaceChildren();
  // No header row over nothing: the table shows only when some table differs.
  ui.dataTablesWrap.hidden = differing.length === 0;
  for (const t of differing) {
    const row = ui.dataRows.insertRow();
    row.dataset.table = t.table;
    cell(row, t.table, 'Table', 'name');
    cell(row, t.added.toLocaleString('en-US'), 'Added', 'num');
    cell(row, t.removed.toLocaleString('en-US'), 'Removed', 'num');
    cell(row, t.match === 'rows' ? '-' : t.changed.toLocaleString('en-US'), 'Changed', 'num');
    cell(row, t.key ? `${MATCH_LABEL[t.match]} (${t.key.join(', ')})` : MATCH_LABEL[t.match], 'Matched by');
  }
  const notes: string[] = [];
  const shared = result.tables.filter((t) => t.columns_differ).map((t) => t.table);
  if (shared.length) notes.push(`Compared on shared columns only (their columns differ): ${shared.join(', ')}.`);
  if (differing.some((t) => t.match === 'rows')) notes.push('Tables without a primary key or unique not-null index are compared as whole rows: a changed row shows as one removed and one added.');
  if (result.only_in_from.length) notes.push(`Only in ${result.from} (rows not compared): ${result.only_in_from.join(', ')}.`);
  if (result.only_in_to.length) notes.push(`Only in ${result.to} (rows not compared): ${result.only_in_to.join(', ')}.`);
  ui.dataNotes.textContent = notes.join(' ');
}

function hideDataChanges(): void {
  dataRequest++;
  dataOf = undefined;
  ui.dataView.hidden = true;
}

function renderDiff(): void {
  if (!diff) return;
  ui.diffTitle.textContent = `Schema diff: main → ${diff.to}`;
  ui.diffText.textContent = diff.showing === 'text' ? diff.text : diff.sql;
  ui.diffChanges.setAttribute('aria-pressed', String(diff.showing === 'text'));
  ui.diffSql.setAttribute('aria-pressed', String(diff.showing === 'sql'));
}

/** Asks in the confirm dialog; true when the user pressed the action button. */
async function ask(title: string, text: string, action: string): Promise<boolean> {
  clearMessages();
  ui.confirmTitle.textContent = title;
  ui.confirmText.textContent = text;
  ui.confirmOk.textContent = action;
  ui.confirm.returnValue = '';
  ui.confirm.showModal();
  await new Promise<void>((resolve) => ui.confirm.addEventListener('close', () => resolve(), { once: true }));
  return ui.confirm.returnValue === 'ok';
}

async function confirmDelete(record: BranchJson, kind: 'branch' | 'snapshot'): Promise<void> {
  if (!(await ask(`Delete ${kind}?`, `${kind === 'branch' ? 'Branch' : 'Snapshot'} "${record.name}" and its database ${record.branch_database} will be dropped. This cannot be undone.`, 'Delete'))) return;
  try {
    // A failed or half-made one can only go with force, as with `ayb branch delete --force`.
    const force = record.status === 'ready' ? '' : '?force=true';
    await api('DELETE', `/api/admin/${kind === 'branch' ? 'branches' : 'snapshots'}/${encodeURIComponent(record.name)}${force}`);
    notice(`Deleted ${kind} "${record.name}".`);
    if (diff?.to === record.name) ui.diffView.hidden = true;
    if (dataOf === record.name) hideDataChanges();
  } catch (error) {
    showError(error);
  }
  await refreshBranches().catch(showError);
}

/** Reset to the branch's source as it is now, or to a snapshot picked in the dialog. */
async function confirmReset(branch: BranchJson): Promise<void> {
  clearMessages();
  const source = parentName(branch);
  const sourceIsSnapshot = readySnapshots.includes(source);
  ui.resetTitle.textContent = `Reset branch "${branch.name}"?`;
  ui.resetText.textContent = `It gets a fresh copy: every change made on it is lost, and its sessions are ended. Its name and URL stay the same.`;
  const options: HTMLElement[] = [new Option(sourceIsSnapshot ? `${source} (snapshot it was made from)` : `${source}, as it is now`, '')];
  const others = readySnapshots.filter((n) => n !== source);
  if (others.length > 0) {
    const group = document.createElement('optgroup');
    group.label = 'Snapshots';
    group.append(...others.map((n) => new Option(`${n} (snapshot)`, n)));
    options.push(group);
  }
  ui.resetTo.replaceChildren(...options);
  ui.resetTo.value = '';
  ui.reset.returnValue = '';
  ui.reset.showModal();
  await new Promise<void>((resolve) => ui.reset.addEventListener('close', () => resolve(), { once: true }));
  if (ui.reset.returnValue !== 'ok') return;
  const to = ui.resetTo.value;
  try {
    notice(`Resetting branch "${branch.name}" …`);
    const reset = await api<BranchJson>('POST', `/api/admin/branches/${encodeURIComponent(branch.name)}/reset`, to ? { to } : {});
    notice(to ? `Reset branch "${reset.name}" to snapshot "${to}" (${reset.strategy ?? 'copy'}).` : `Reset branch "${reset.name}" to the current state of ${source} (${reset.strategy ?? 'copy'}).`);
    // Its data changes were those of the copy just replaced.
    if (dataOf === reset.name) hideDataChanges();
  } catch (error) {
    notice('');
    showError(error);
  }
  await refreshBranches().catch(showError);
}

async function editExpiry(branch: BranchJson): Promise<void> {
  clearMessages();
  ui.expiryTitle.textContent = `Expiry of "${branch.name}"`;
  ui.expiryText.textContent = branch.expires_at
    ? `Expires ${formatTime(branch.expires_at)} (${expiresIn(branch.expires_at)}). Expired branches are deleted by the next prune.`
    : 'Never expires. Expired branches are deleted by the next prune.';
  ui.expiryTtl.value = '';
  ui.expiry.returnValue = '';
  ui.expiry.showModal();
  await new Promise<void>((resolve) => ui.expiry.addEventListener('close', () => resolve(), { once: true }));
  const choice = ui.expiry.returnValue;
  if (choice !== 'set' && choice !== 'never') return;
  try {
    const body = choice === 'never' ? { never: true } : { ttl: ui.expiryTtl.value.trim() };
    const updated = await api<BranchJson>('POST', `/api/admin/branches/${encodeURIComponent(branch.name)}/expire`, body);
    notice(updated.expires_at ? `Branch "${updated.name}" expires ${formatTime(updated.expires_at)} (${expiresIn(updated.expires_at)}).` : `Branch "${updated.name}" never expires.`);
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
  const ttl = ui.branchTtl.value.trim();
  const from = ui.branchFrom.value === AT_MOMENT ? `${AT_MOMENT}${ui.branchAt.value.trim()}` : ui.branchFrom.value;
  // "masked" only when ticked: where [masking] required masks every copy, an explicit false is refused.
  createRecord('branch', { name: ui.branchName.value.trim(), from, ...(ttl ? { ttl } : {}), ...(ui.branchMasked.checked ? { masked: true } : {}) })
    .then(() => {
      ui.branchName.value = '';
      ui.branchTtl.value = '';
      ui.branchAt.value = '';
      ui.branchMasked.checked = false;
    })
    .catch(showError)
    .finally(() => {
      ui.createButton.disabled = false;
    });
});

ui.snapshotForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearMessages();
  ui.snapshotButton.disabled = true;
  const of = ui.snapshotOf.value === AT_MOMENT ? `${AT_MOMENT}${ui.snapshotAt.value.trim()}` : ui.snapshotOf.value;
  createRecord('snapshot', { name: ui.snapshotName.value.trim(), of, ...(ui.snapshotMasked.checked ? { masked: true } : {}) })
    .then(() => {
      ui.snapshotName.value = '';
      ui.snapshotAt.value = '';
      ui.snapshotMasked.checked = false;
    })
    .catch(showError)
    .finally(() => {
      ui.snapshotButton.disabled = false;
    });
});

/** The moment fields show only for "main at a past moment", in the branch form and the snapshot form alike. */
function showMomentField(): void {
  const at = ui.branchFrom.value === AT_MOMENT;
  for (const part of ui.branchAtParts) part.hidden = !at;
  ui.branchAt.required = at;
  const snapshotAt = ui.snapshotOf.value === AT_MOMENT;
  for (const part of ui.snapshotAtParts) part.hidden = !snapshotAt;
  ui.snapshotAt.required = snapshotAt;
}
ui.branchFrom.addEventListener('change', showMomentField);
ui.snapshotOf.addEventListener('change', showMomentField);

ui.dataAgain.addEventListener('click', () => {
  if (dataOf) void showDataChanges(dataOf).catch(showError);
});
ui.dataClose.addEventListener('click', hideDataChanges);

ui.diffChanges.addEventListener('click', () => {
  if (diff) diff.showing = 'text';
  renderDiff();
});
ui.diffSql.addEventListener('click', () => {
  if (diff) diff.showing = 'sql';
  renderDiff();
});
ui.diffClose.addEventListener('click', () => {
  ui.diffView.hidden = true;
  diff = undefined;
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

/** The answer of POST /api/admin/branches/<name>/merge, as `ayb branch merge --json`. */
interface MergeAnswer {
  into: string;
  base: string;
  applied: boolean;
  up_to_date: boolean;
  schema_statements: number;
  tables: { table: string; inserted: number; updated: number; deleted: number; conflicts: number }[];
  conflicts: { table: string; key: Record<string, string | null>; ours: string; theirs: string; columns: string[]; base: Record<string, string | null> | null; our: Record<string, string | null> | null; their: Record<string, string | null> | null; resolution: unknown }[];
  schema_conflicts: { object: string; ours: string; theirs: string }[];
  unresolved: number;
}

/** Merge: a dry run first, its conflicts side by side (base | ours | theirs), then the merge on confirmation. */
async function confirmMerge(branch: BranchJson): Promise<void> {
  const path = `/api/admin/branches/${encodeURIComponent(branch.name)}/merge`;
  try {
    notice(`Planning the merge of "${branch.name}" (dry run) …`);
    const plan = await api<MergeAnswer>('POST', path, { dry_run: true });
    notice('');
    if (plan.up_to_date) {
      notice(`Already up to date: "${branch.name}" changed nothing since ${plan.base}.`);
      return;
    }
    const rows = plan.tables.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0);
    const value = (v: Record<string, string | null> | null, column?: string) => (v === null ? '(no row)' : column ? String(v[column] ?? 'NULL') : JSON.stringify(v));
    const lines = [`Merge "${branch.name}" into ${plan.into} (base: ${plan.base}): ${plan.schema_statements} schema statement(s), ${rows} row change(s).`];
    for (const c of plan.schema_conflicts) lines.push(`Schema conflict: ${c.object} (ours: ${c.ours}, theirs: ${c.theirs}). Make the schemas alike first.`);
    for (const c of plan.conflicts.slice(0, 30)) {
      const key = Object.entries(c.key).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join(', ');
      const cells = c.columns.length > 0 ? c.columns.map((col) => `${col}: base ${value(c.base, col)} | ours ${value(c.our, col)} | theirs ${value(c.their, col)}`) : [`base ${value(c.base)} | ours ${value(c.our)} | theirs ${value(c.their)}`];
      lines.push(`${c.table} (${key}) ${cells.join('; ')}`);
    }
    if (plan.conflicts.length > 30) lines.push(`… and ${plan.conflicts.length - 30} more (ayb branch merge --conflicts <file> lists them all).`);
    if (plan.schema_conflicts.length > 0) {
      await ask('Merge blocked', lines.join('\n'), 'Close');
      return;
    }
    const conflicted = plan.conflicts.length > 0;
    if (conflicted) lines.push(`${plan.conflicts.length} conflict(s): merging keeps ${plan.into}'s values there. To take the branch's, or decide row by row, use ayb branch merge ${branch.name} --conflicts <file>.`);
    ui.confirmText.style.whiteSpace = 'pre-line';
    const go = await ask(conflicted ? 'Merge with conflicts?' : 'Merge branch?', lines.join('\n'), conflicted ? `Merge, keeping ${plan.into}'s` : 'Merge').finally(() => {
      ui.confirmText.style.whiteSpace = '';
    });
    if (!go) return;
    notice(`Merging "${branch.name}" into ${plan.into} …`);
    const done = await api<MergeAnswer>('POST', path, conflicted ? { strategy: 'ours' } : {});
    notice(`Merged "${branch.name}" into ${done.into}: ${done.tables.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0)} row change(s).`);
  } catch (error) {
    notice('');
    showError(error);
  }
  await refreshBranches().catch(showError);
}
