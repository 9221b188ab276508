/**
 * The admin dashboard, in the browser: the actions behind the page's forms and buttons, and its
 * start. Compiled by tsc like the rest of ayb, then bundled with the modules it imports (api, state,
 * views, dom, and the formatters it shares with the terminal, output/format.ts) into one script by
 * `npm run build` (tools/build/bundle.ts), served as /admin/app.js.
 *
 * api.ts makes every request, state.ts holds what the page remembers, views.ts and dom.ts draw.
 */
import { adminApi, ApiError, type BranchJson, type RecordKind } from './api.js';
import { showDialog, ui } from './dom.js';
import { AT_MOMENT, parentName, POLL_MS, state } from './state.js';
import * as views from './views.js';

const api = adminApi(signOut);

function showError(error: unknown): void {
  if (error instanceof ApiError && error.handled) return;
  views.showError(error instanceof ApiError
    ? `${error.message}${error.hint ? `\nHint: ${error.hint}` : ''}`
    : `Cannot reach the ayb server: ${error instanceof Error ? error.message : String(error)}`);
}

function signOut(message?: string): void {
  api.logOut();
  window.clearTimeout(state.pollTimer);
  views.showLogin(message);
}

async function showApp(): Promise<void> {
  views.showAppView();
  await Promise.all([refreshBranches(), refreshTables()]);
}

/** What the buttons in the list of branches and snapshots do. */
const rowActions: views.RowActions = {
  copyUrl: (name) => void copyUrl(name).catch(showError),
  showDiff: (name) => void showDiff(name).catch(showError),
  showDataChanges: (name) => void showDataChanges(name).catch(showError),
  reset: (branch) => void confirmReset(branch),
  merge: (branch) => void confirmMerge(branch),
  editExpiry: (branch) => void editExpiry(branch),
  remove: (record, kind) => void confirmDelete(record, kind),
  branchFromSnapshot: (name) => {
    ui.create.from.value = name;
    views.showMomentField();
    ui.create.name.focus();
    views.notice(`Name the new branch of snapshot "${name}" and press Create branch.`);
  },
};

async function refreshBranches(): Promise<void> {
  const refresh = ++state.refreshes;
  const { branches, snapshots, mainDatabase } = await api.records(false);
  state.mainDatabase = mainDatabase;
  views.renderRecords([...branches, ...snapshots], rowActions);
  views.renderSources(branches, snapshots);
  // While a create runs (here or elsewhere), keep the view current so its status changes show.
  window.clearTimeout(state.pollTimer);
  if (state.pendingCreates > 0 || [...branches, ...snapshots].some((b) => b.status === 'creating')) {
    state.pollTimer = window.setTimeout(() => void refreshBranches().catch(showError), POLL_MS);
    return;
  }
  // The list is drawn; now the sizes, unless a newer refresh has begun meanwhile.
  const sized = await api.records(true);
  if (refresh === state.refreshes) views.renderRecords([...sized.branches, ...sized.snapshots], rowActions);
}

async function refreshTables(): Promise<void> {
  const { database, tables } = await api.database();
  views.renderTables(database, tables);
}

/** Creates a branch or a snapshot; its row shows `creating` until the copy is done. */
async function createRecord(kind: RecordKind, body: { name: string } & Record<string, string | boolean>): Promise<BranchJson> {
  state.pendingCreates++;
  const create = api.create(kind, body);
  views.notice(`Creating ${kind} "${body.name}" …`);
  // Show the new row (status creating) as soon as the server has recorded it.
  void refreshBranches().catch(() => undefined);
  try {
    const record = await create;
    views.notice(`Created ${kind} "${record.name}" (${record.strategy ?? 'copy'}).`);
    return record;
  } catch (error) {
    views.notice('');
    throw error;
  } finally {
    state.pendingCreates--;
    await refreshBranches().catch(showError);
  }
}

async function copyUrl(name: string): Promise<void> {
  views.clearMessages();
  const { url } = await api.url(name);
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
  views.notice(`Copied the connection URL of "${name}" (password included): psql "<paste>"`);
}

async function showDiff(name: string): Promise<void> {
  views.clearMessages();
  views.notice(`Comparing main with "${name}" …`);
  const result = await api.schemaDiff(name);
  state.diff = { to: name, text: result.text, sql: result.sql, showing: 'text' };
  views.notice('');
  views.renderDiff();
  ui.diff.view.hidden = false;
  ui.diff.view.scrollIntoView({ block: 'nearest' });
}

/** The rows of a branch against its parent's, on request only: the server reads every table of both. */
async function showDataChanges(name: string): Promise<void> {
  views.clearMessages();
  const request = ++state.dataRequest;
  state.dataOf = name;
  views.showDataPending(name);
  try {
    const result = await api.dataDiff(name);
    if (request === state.dataRequest) views.renderDataChanges(result);
  } catch (error) {
    if (request === state.dataRequest) {
      ui.data.view.hidden = true;
      state.dataOf = undefined;
    }
    throw error;
  } finally {
    if (request === state.dataRequest) ui.data.again.disabled = false;
  }
}

function hideDataChanges(): void {
  state.dataRequest++;
  state.dataOf = undefined;
  ui.data.view.hidden = true;
}

/** Asks in the confirm dialog; true when the user pressed the action button. */
async function ask(title: string, text: string, action: string): Promise<boolean> {
  views.clearMessages();
  ui.confirm.title.textContent = title;
  ui.confirm.text.textContent = text;
  ui.confirm.ok.textContent = action;
  return (await showDialog(ui.confirm.dialog)) === 'ok';
}

async function confirmDelete(record: BranchJson, kind: RecordKind): Promise<void> {
  if (!(await ask(`Delete ${kind}?`, `${kind === 'branch' ? 'Branch' : 'Snapshot'} "${record.name}" and its database ${record.branch_database} will be dropped. This cannot be undone.`, 'Delete'))) return;
  try {
    await api.remove(kind, record.name, record.status !== 'ready');
    views.notice(`Deleted ${kind} "${record.name}".`);
    if (state.diff?.to === record.name) ui.diff.view.hidden = true;
    if (state.dataOf === record.name) hideDataChanges();
  } catch (error) {
    showError(error);
  }
  await refreshBranches().catch(showError);
}

/** Reset to the branch's source as it is now, or to a snapshot picked in the dialog. */
async function confirmReset(branch: BranchJson): Promise<void> {
  views.clearMessages();
  const source = parentName(branch, state.mainDatabase);
  views.fillResetChoices(branch, source);
  if ((await showDialog(ui.reset.dialog)) !== 'ok') return;
  const to = ui.reset.to.value;
  try {
    views.notice(`Resetting branch "${branch.name}" …`);
    const reset = await api.reset(branch.name, to);
    views.notice(to ? `Reset branch "${reset.name}" to snapshot "${to}" (${reset.strategy ?? 'copy'}).` : `Reset branch "${reset.name}" to the current state of ${source} (${reset.strategy ?? 'copy'}).`);
    // Its data changes were those of the copy just replaced.
    if (state.dataOf === reset.name) hideDataChanges();
  } catch (error) {
    views.notice('');
    showError(error);
  }
  await refreshBranches().catch(showError);
}

async function editExpiry(branch: BranchJson): Promise<void> {
  views.clearMessages();
  ui.expiry.title.textContent = `Expiry of "${branch.name}"`;
  ui.expiry.text.textContent = branch.expires_at
    ? `Expires ${views.formatTime(branch.expires_at)} (${views.expiresInText(branch.expires_at)}). Expired branches are deleted by the next prune.`
    : 'Never expires. Expired branches are deleted by the next prune.';
  ui.expiry.ttl.value = '';
  const choice = await showDialog(ui.expiry.dialog);
  if (choice !== 'set' && choice !== 'never') return;
  try {
    const updated = await api.expire(branch.name, choice === 'never' ? { never: true } : { ttl: ui.expiry.ttl.value.trim() });
    views.notice(updated.expires_at ? `Branch "${updated.name}" expires ${views.formatTime(updated.expires_at)} (${views.expiresInText(updated.expires_at)}).` : `Branch "${updated.name}" never expires.`);
  } catch (error) {
    showError(error);
  }
  await refreshBranches().catch(showError);
}

/** Merge: a dry run first, its conflicts side by side (base | ours | theirs), then the merge on confirmation. */
async function confirmMerge(branch: BranchJson): Promise<void> {
  try {
    views.notice(`Planning the merge of "${branch.name}" (dry run) …`);
    const plan = await api.merge(branch.name, { dry_run: true });
    views.notice('');
    if (plan.up_to_date) {
      views.notice(`Already up to date: "${branch.name}" changed nothing since ${plan.base}.`);
      return;
    }
    const lines = views.mergePlanLines(branch.name, plan);
    if (plan.schema_conflicts.length > 0) {
      await ask('Merge blocked', lines.join('\n'), 'Close');
      return;
    }
    const conflicted = plan.conflicts.length > 0;
    if (conflicted) lines.push(`${plan.conflicts.length} conflict(s): merging keeps ${plan.into}'s values there. To take the branch's, or decide row by row, use ayb branch merge ${branch.name} --conflicts <file>.`);
    ui.confirm.text.style.whiteSpace = 'pre-line';
    const go = await ask(conflicted ? 'Merge with conflicts?' : 'Merge branch?', lines.join('\n'), conflicted ? `Merge, keeping ${plan.into}'s` : 'Merge').finally(() => {
      ui.confirm.text.style.whiteSpace = '';
    });
    if (!go) return;
    views.notice(`Merging "${branch.name}" into ${plan.into} …`);
    const done = await api.merge(branch.name, conflicted ? { strategy: 'ours' } : {});
    views.notice(`Merged "${branch.name}" into ${done.into}: ${done.tables.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0)} row change(s).`);
  } catch (error) {
    views.notice('');
    showError(error);
  }
  await refreshBranches().catch(showError);
}

/** A form's submit: its button disabled until the create is answered; the fields emptied when it succeeds. */
function onCreate(form: HTMLFormElement, submit: HTMLButtonElement, kind: RecordKind, body: () => { name: string } & Record<string, string | boolean>, clear: () => void): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    views.clearMessages();
    submit.disabled = true;
    createRecord(kind, body())
      .then(clear)
      .catch(showError)
      .finally(() => {
        submit.disabled = false;
      });
  });
}

/** `main@<moment>` when "main at a past moment" is chosen, else the choice itself. */
const source = (select: HTMLSelectElement, at: HTMLInputElement) => (select.value === AT_MOMENT ? `${AT_MOMENT}${at.value.trim()}` : select.value);

function wireForms(): void {
  ui.login.form.addEventListener('submit', (event) => {
    event.preventDefault();
    views.clearMessages();
    void (async () => {
      try {
        await api.logIn(ui.login.password.value);
        ui.login.password.value = '';
        await showApp();
      } catch (error) {
        showError(error);
      }
    })();
  });
  // "masked" only when ticked: where [masking] required masks every copy, an explicit false is refused.
  const { create, snapshot } = ui;
  onCreate(create.form, create.button, 'branch', () => {
    const ttl = create.ttl.value.trim();
    return { name: create.name.value.trim(), from: source(create.from, create.at), ...(ttl ? { ttl } : {}), ...(create.masked.checked ? { masked: true } : {}) };
  }, () => {
    create.name.value = create.ttl.value = create.at.value = '';
    create.masked.checked = false;
  });
  onCreate(snapshot.form, snapshot.button, 'snapshot', () => ({ name: snapshot.name.value.trim(), of: source(snapshot.of, snapshot.at), ...(snapshot.masked.checked ? { masked: true } : {}) }), () => {
    snapshot.name.value = snapshot.at.value = '';
    snapshot.masked.checked = false;
  });
  create.from.addEventListener('change', views.showMomentField);
  snapshot.of.addEventListener('change', views.showMomentField);
}

function wireButtons(): void {
  ui.data.again.addEventListener('click', () => {
    if (state.dataOf) void showDataChanges(state.dataOf).catch(showError);
  });
  ui.data.close.addEventListener('click', hideDataChanges);
  const showDiffAs = (showing: 'text' | 'sql') => () => {
    if (state.diff) state.diff.showing = showing;
    views.renderDiff();
  };
  ui.diff.changes.addEventListener('click', showDiffAs('text'));
  ui.diff.sql.addEventListener('click', showDiffAs('sql'));
  ui.diff.close.addEventListener('click', () => {
    ui.diff.view.hidden = true;
    state.diff = undefined;
  });
  ui.tables.refresh.addEventListener('click', () => {
    views.clearMessages();
    refreshTables().catch(showError);
  });
  ui.header.logout.addEventListener('click', () => {
    views.clearMessages();
    signOut('Logged out.');
  });
}

async function start(): Promise<void> {
  wireForms();
  wireButtons();
  try {
    const health = await api.health();
    state.servedBranch = health.branch;
    ui.header.served.textContent = `Serving ${health.database}${health.branch ? ` (branch ${health.branch})` : ' (main)'}${health.status === 'ok' ? '' : ' — unavailable'}`;
  } catch (error) {
    showError(error);
  }
  if (!api.loggedIn()) {
    signOut();
    return;
  }
  await showApp().catch(showError);
}

void start();
