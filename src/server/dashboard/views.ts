/**
 * The dashboard's views: what the page shows for the answers of the admin API. They draw from the
 * state and call back into the actions (client.ts) for the buttons they make; they send no request.
 */
import { expiresIn, formatBytes } from '../../output/format.js';
import type { BranchJson, DataDiff, MergeResult, RecordKind, TableDataChange, TableInfo } from './api.js';
import { button, cell, optionGroup, tag, ui } from './dom.js';
import { AT_MOMENT, type Row, state, treeOrder } from './state.js';

/** What the buttons of a row do. */
export interface RowActions {
  copyUrl(name: string): void;
  showDiff(name: string): void;
  showDataChanges(name: string): void;
  reset(branch: BranchJson): void;
  merge(branch: BranchJson): void;
  editExpiry(branch: BranchJson): void;
  remove(record: BranchJson, kind: RecordKind): void;
  branchFromSnapshot(name: string): void;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-02 14:05`: ISO order, 24-hour clock, the browser's time zone (the full UTC time is the cell's title). */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** As the terminal says it (output/format.ts): `never`, `in 2d 3h`, `expired 5m ago`. */
export function expiresInText(iso: string | null): string {
  return expiresIn(iso ? new Date(iso) : null);
}

const size = (bytes: number | undefined) => formatBytes(bytes) ?? '-';

export function showError(text: string): void {
  ui.messages.error.textContent = text;
  ui.messages.error.hidden = false;
}

export function clearMessages(): void {
  ui.messages.error.hidden = true;
  ui.messages.error.textContent = '';
  ui.messages.notice.textContent = '';
}

export function notice(text: string): void {
  ui.messages.notice.textContent = text;
}

/** The login form instead of the app. */
export function showLogin(message?: string): void {
  ui.app.hidden = true;
  ui.header.logout.hidden = true;
  ui.login.view.hidden = false;
  if (message) notice(message);
  ui.login.password.focus();
}

export function showAppView(): void {
  ui.login.view.hidden = true;
  ui.app.hidden = false;
  ui.header.logout.hidden = false;
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
  const expires = cell(row, expiresInText(record.expires_at), 'Expires');
  if (record.expires_at) {
    expires.title = record.expires_at;
    if (Date.parse(record.expires_at) <= Date.now()) expires.classList.add('expired');
  }
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
  if (depth === 0 && record.parent === null && record.source_database !== state.mainDatabase) {
    name.append(tag(`from ${record.source_database}`, `made from ${record.source_database}`));
  }
  if (record.name === state.servedBranch) name.append(tag('served'));
  if (record.masked) name.append(tag('masked', 'made with the masking rules applied'));
}

export function renderRecords(records: readonly BranchJson[], actions: RowActions): void {
  ui.branches.rows.replaceChildren();
  for (const item of treeOrder(records)) {
    const row = ui.branches.rows.insertRow();
    if (item.record.kind === 'snapshot') {
      row.dataset.snapshot = item.record.name;
      row.className = 'snapshot';
      nameCell(row, item);
      snapshotCells(row, item.record, actions);
    } else {
      row.dataset.branch = item.record.name;
      nameCell(row, item);
      branchCells(row, item.record, actions);
    }
  }
  ui.branches.empty.hidden = records.length > 0;
}

function connectionCell(row: HTMLTableRowElement, branch: BranchJson, actions: RowActions): void {
  const connection = cell(row, '', 'Connection', 'connection');
  if (!branch.url) {
    connection.textContent = '-';
    return;
  }
  const code = document.createElement('code');
  // Right-to-left only so that the cut falls at the start; the URL itself reads left to right.
  const url = document.createElement('bdi');
  url.dir = 'ltr';
  url.textContent = branch.url;
  code.append(url);
  code.title = branch.url;
  connection.append(code, button('Copy', `Copy connection URL of ${branch.name}`, () => actions.copyUrl(branch.name)));
}

function branchCells(row: HTMLTableRowElement, branch: BranchJson, actions: RowActions): void {
  statusCell(row, branch);
  cell(row, size(branch.size_bytes), 'Size', 'num');
  timeCells(row, branch);
  connectionCell(row, branch, actions);

  const cellOfActions = cell(row, '', 'Actions', 'actions');
  const ready = branch.status === 'ready';
  const served = branch.name === state.servedBranch;
  const diffButton = button('Diff', `Diff branch ${branch.name}`, () => actions.showDiff(branch.name));
  const dataButton = button('Data', `Data changes of branch ${branch.name}`, () => actions.showDataChanges(branch.name));
  const resetButton = button('Reset', `Reset branch ${branch.name}`, () => actions.reset(branch));
  const mergeButton = button('Merge', `Merge branch ${branch.name} into its parent`, () => actions.merge(branch));
  mergeButton.disabled = !ready;
  const expiryButton = button('Expiry', `Set expiry of branch ${branch.name}`, () => actions.editExpiry(branch));
  const remove = button('Delete', `Delete branch ${branch.name}`, () => actions.remove(branch, 'branch'));
  diffButton.disabled = !ready;
  const comparable = branch.parent !== null || branch.source_database === state.mainDatabase;
  dataButton.disabled = !ready || !comparable;
  if (!comparable) dataButton.title = `Copied from ${branch.source_database}: there is no parent here to compare its rows with`;
  resetButton.disabled = !ready || served;
  remove.disabled = served;
  if (served) resetButton.title = remove.title = 'This server serves this branch';
  cellOfActions.append(diffButton, dataButton, mergeButton, resetButton, expiryButton, remove);
}

function snapshotCells(row: HTMLTableRowElement, snapshot: BranchJson, actions: RowActions): void {
  statusCell(row, snapshot);
  cell(row, size(snapshot.size_bytes), 'Size', 'num');
  timeCells(row, snapshot);
  const connection = cell(row, '-', 'Connection', 'connection');
  connection.title = 'nobody connects to a snapshot: make a branch of it';
  const cellOfActions = cell(row, '', 'Actions', 'actions');
  const branchFrom = button('New branch', `New branch from snapshot ${snapshot.name}`, () => actions.branchFromSnapshot(snapshot.name));
  branchFrom.disabled = snapshot.status !== 'ready';
  cellOfActions.append(branchFrom, button('Delete', `Delete snapshot ${snapshot.name}`, () => actions.remove(snapshot, 'snapshot')));
}

/** The sources a branch can be made from (main, main at a moment, ready branches, ready snapshots) and what a snapshot can be of. */
export function renderSources(branches: readonly BranchJson[], snapshots: readonly BranchJson[]): void {
  const readyBranches = branches.filter((b) => b.status === 'ready').map((b) => b.name);
  state.readySnapshots = snapshots.filter((s) => s.status === 'ready').map((s) => s.name);
  const fill = (select: HTMLSelectElement, withSnapshots: boolean) => {
    const selected = select.value;
    const snapshotNames = withSnapshots ? state.readySnapshots : [];
    select.replaceChildren(
      new Option('main', 'main'),
      new Option('main at a past moment …', AT_MOMENT),
      ...optionGroup('Branches', readyBranches),
      ...optionGroup('Snapshots', snapshotNames, (n) => `${n} (snapshot)`),
    );
    const all = ['main', AT_MOMENT, ...readyBranches, ...snapshotNames];
    select.value = all.includes(selected) ? selected : 'main';
  };
  fill(ui.create.from, true);
  fill(ui.snapshot.of, false);
  showMomentField();
}

/** The moment fields show only for "main at a past moment", in the branch form and the snapshot form alike. */
export function showMomentField(): void {
  const at = ui.create.from.value === AT_MOMENT;
  for (const part of ui.create.atParts) part.hidden = !at;
  ui.create.at.required = at;
  const snapshotAt = ui.snapshot.of.value === AT_MOMENT;
  for (const part of ui.snapshot.atParts) part.hidden = !snapshotAt;
  ui.snapshot.at.required = snapshotAt;
}

export function renderTables(database: string, tables: readonly TableInfo[]): void {
  ui.tables.database.textContent = database;
  ui.tables.rows.replaceChildren();
  for (const table of tables) {
    const row = ui.tables.rows.insertRow();
    cell(row, `${table.schema}.${table.name}`, 'Table');
    const rows = table.rows === null ? '?' : table.rows.toLocaleString('en-US');
    const count = cell(row, table.exact || table.rows === null ? rows : `~${rows}`, 'Rows', 'num');
    if (!table.exact) count.title = 'estimate from PostgreSQL statistics';
    cell(row, size(table.size_bytes), 'Size', 'num');
  }
  ui.tables.empty.hidden = tables.length > 0;
}

export function renderDiff(): void {
  const { diff } = state;
  if (!diff) return;
  ui.diff.title.textContent = `Schema diff: main → ${diff.to}`;
  ui.diff.text.textContent = diff.showing === 'text' ? diff.text : diff.sql;
  ui.diff.changes.setAttribute('aria-pressed', String(diff.showing === 'text'));
  ui.diff.sql.setAttribute('aria-pressed', String(diff.showing === 'sql'));
}

/** The data-changes panel while a comparison runs. */
export function showDataPending(name: string): void {
  ui.data.title.textContent = `Data changes: ${name}`;
  ui.data.summary.textContent = `Comparing the rows of "${name}" with its parent …`;
  ui.data.rows.replaceChildren();
  ui.data.tablesWrap.hidden = true;
  ui.data.notes.textContent = '';
  ui.data.again.disabled = true;
  ui.data.view.hidden = false;
  ui.data.view.scrollIntoView({ block: 'nearest' });
}

const MATCH_LABEL: Record<TableDataChange['match'], string> = { primary_key: 'primary key', unique_index: 'unique index', rows: 'whole rows' };

export function renderDataChanges(result: DataDiff): void {
  ui.data.title.textContent = `Data changes: ${result.from} → ${result.to}`;
  const differing = result.tables.filter((t) => t.added + t.removed + t.changed > 0);
  const same = result.tables.length - differing.length;
  ui.data.summary.textContent = differing.length === 0
    ? `No data differences between ${result.from} and ${result.to} (${result.tables.length} table(s) compared).`
    : `${differing.length} table(s) differ${same > 0 ? `; ${same} other table(s) identical` : ''}.`;
  ui.data.rows.replaceChildren();
  // No header row over nothing: the table shows only when some table differs.
  ui.data.tablesWrap.hidden = differing.length === 0;
  for (const t of differing) {
    const row = ui.data.rows.insertRow();
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
  ui.data.notes.textContent = notes.join(' ');
}

/** The Reset dialog's choices: the branch's source as it is now (or the snapshot it was made from), or another snapshot. */
export function fillResetChoices(branch: BranchJson, source: string): void {
  const sourceIsSnapshot = state.readySnapshots.includes(source);
  ui.reset.title.textContent = `Reset branch "${branch.name}"?`;
  ui.reset.text.textContent = `It gets a fresh copy: every change made on it is lost, and its sessions are ended. Its name and URL stay the same.`;
  const others = state.readySnapshots.filter((n) => n !== source);
  ui.reset.to.replaceChildren(
    new Option(sourceIsSnapshot ? `${source} (snapshot it was made from)` : `${source}, as it is now`, ''),
    ...optionGroup('Snapshots', others, (n) => `${n} (snapshot)`),
  );
  ui.reset.to.value = '';
}

/** The lines of the Merge dialog for a dry run: what would change, and the conflicts side by side (base | ours | theirs). */
export function mergePlanLines(name: string, plan: MergeResult): string[] {
  const rows = plan.tables.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0);
  const value = (v: Readonly<Record<string, string | null>> | null, column?: string) => (v === null ? '(no row)' : column ? String(v[column] ?? 'NULL') : JSON.stringify(v));
  const lines = [`Merge "${name}" into ${plan.into} (base: ${plan.base}): ${plan.schema_statements} schema statement(s), ${rows} row change(s).`];
  for (const c of plan.schema_conflicts) lines.push(`Schema conflict: ${c.object} (ours: ${c.ours}, theirs: ${c.theirs}). Make the schemas alike first.`);
  for (const c of plan.conflicts.slice(0, 30)) {
    const key = Object.entries(c.key).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join(', ');
    const cells = c.columns.length > 0 ? c.columns.map((col) => `${col}: base ${value(c.base, col)} | ours ${value(c.our, col)} | theirs ${value(c.their, col)}`) : [`base ${value(c.base)} | ours ${value(c.our)} | theirs ${value(c.their)}`];
    lines.push(`${c.table} (${key}) ${cells.join('; ')}`);
  }
  if (plan.conflicts.length > 30) lines.push(`… and ${plan.conflicts.length - 30} more (ayb branch merge --conflicts <file> lists them all).`);
  return lines;
}
