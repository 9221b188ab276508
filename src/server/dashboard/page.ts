/**
 * The dashboard's page and stylesheet. The script is `client.ts`, compiled by the build next to
 * this file. Everything is served by the ayb server itself under one strict Content-Security-Policy:
 * no inline script or style, no third-party origin.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ayb admin</title>
<link rel="icon" href="/admin/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/app.css">
<script type="module" src="/admin/app.js"></script>
</head>
<body>
<header>
  <h1>ayb <span class="muted">admin</span></h1>
  <p id="served" class="muted"></p>
  <button id="logout" type="button" class="secondary" hidden>Log out</button>
</header>
<main>
  <div id="error" class="error" role="alert" hidden></div>
  <div id="notice" class="notice" role="status"></div>

  <section id="login-view" hidden>
    <h2>Log in</h2>
    <form id="login-form">
      <label for="password">Admin password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Log in</button>
    </form>
    <p class="muted">The password is <code>[admin] password</code> in ayb.toml, <code>AYB_ADMIN_PASSWORD</code>, or the one <code>ayb start</code> printed.</p>
  </section>

  <div id="app-view" hidden>
    <section aria-labelledby="branches-title">
      <h2 id="branches-title">Branches</h2>
      <form id="create-form" class="inline">
        <label for="branch-name">Name</label>
        <input id="branch-name" name="name" placeholder="feature-auth" autocomplete="off" autocapitalize="none" spellcheck="false" required>
        <label for="branch-from">From</label>
        <select id="branch-from" name="from"><option value="main">main</option></select>
        <label for="branch-at" class="at-moment" hidden>Moment</label>
        <input id="branch-at" name="at" class="at-moment" placeholder="-2h or 2026-11-30T14:00Z" autocomplete="off" spellcheck="false" size="22" hidden title="main as it was at this moment: an ISO 8601 time with a zone, or a duration ago (needs [history] on the managed PostgreSQL)">
        <label for="branch-ttl">Expires in</label>
        <input id="branch-ttl" name="ttl" placeholder="never (or 2d, 12h)" autocomplete="off" spellcheck="false" size="12">
        <label class="check" title="apply the masking rules of ayb.toml before the branch is ready (always on with [masking] required)"><input id="branch-masked" name="masked" type="checkbox"> Masked</label>
        <button type="submit" id="create-button">Create branch</button>
      </form>
      <p class="muted">Each branch sits under what it was made from (main, a branch, or a snapshot), and each snapshot under the branch it froze.</p>
      <div class="table-wrap">
        <table id="branches" class="cards">
          <thead><tr><th>Name</th><th>Status</th><th class="num">Size</th><th>Created</th><th>Expires</th><th>Connection</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="branches-empty" class="muted" hidden>No branches yet. Create one above.</p>
    </section>

    <section id="diff-view" aria-labelledby="diff-title" hidden>
      <h2 id="diff-title">Schema diff</h2>
      <div class="toolbar">
        <button id="diff-changes" type="button" class="secondary" aria-pressed="true">Changes</button>
        <button id="diff-sql" type="button" class="secondary" aria-pressed="false">Migration SQL</button>
        <button id="diff-close" type="button" class="secondary">Close</button>
      </div>
      <pre id="diff-text"></pre>
    </section>

    <section id="data-view" aria-labelledby="data-title" hidden>
      <h2 id="data-title">Data changes</h2>
      <p class="muted">The branch's rows against its parent's as they are now (so changes made on the parent since the copy show too), table by table, matched by primary key, as <code>ayb branch diff &lt;parent&gt; &lt;branch&gt; --data</code>. Comparing reads every table of both, so it runs only when asked.</p>
      <div class="toolbar">
        <button id="data-again" type="button" class="secondary">Compare again</button>
        <button id="data-close" type="button" class="secondary">Close</button>
      </div>
      <p id="data-summary"></p>
      <div id="data-tables-wrap" class="table-wrap">
        <table id="data-tables" class="cards">
          <thead><tr><th>Table</th><th class="num">Added</th><th class="num">Removed</th><th class="num">Changed</th><th>Matched by</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="data-notes" class="muted"></p>
    </section>

    <section aria-labelledby="snapshots-title">
      <h2 id="snapshots-title">Snapshots</h2>
      <p class="muted">Frozen copies nobody connects to: branch from them, or reset a branch to one. They show in the tree above, marked <span class="tag">snapshot</span>.</p>
      <form id="snapshot-form" class="inline">
        <label for="snapshot-name">Snapshot name</label>
        <input id="snapshot-name" name="name" placeholder="before-migration" autocomplete="off" autocapitalize="none" spellcheck="false" required>
        <label for="snapshot-of">Of</label>
        <select id="snapshot-of" name="of"><option value="main">main</option></select>
        <label for="snapshot-at" class="snapshot-at-moment" hidden>As of</label>
        <input id="snapshot-at" name="at" class="snapshot-at-moment" placeholder="-2h or 2026-11-30T14:00Z" autocomplete="off" spellcheck="false" size="22" hidden title="main as it was at this moment: an ISO 8601 time with a zone, or a duration ago (needs [history] on the managed PostgreSQL)">
        <label class="check" title="apply the masking rules of ayb.toml before the snapshot is ready (always on with [masking] required)"><input id="snapshot-masked" name="masked" type="checkbox"> Masked</label>
        <button type="submit" id="snapshot-button">Create snapshot</button>
      </form>
    </section>

    <section aria-labelledby="database-title">
      <h2 id="database-title">Database <code id="database-name"></code></h2>
      <p class="muted">Tables of the database this server serves. Rows are exact for small tables; <span class="estimate">~</span> marks an estimate from PostgreSQL's statistics.</p>
      <button id="refresh-tables" type="button" class="secondary">Refresh</button>
      <div class="table-wrap">
        <table id="tables">
          <thead><tr><th>Table</th><th class="num">Rows</th><th class="num">Size</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="tables-empty" class="muted" hidden>No tables.</p>
    </section>
  </div>
</main>

<dialog id="confirm-dialog" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Are you sure?</h2>
    <p id="confirm-text"></p>
    <div class="actions">
      <button value="cancel" class="secondary">Cancel</button>
      <button value="ok" id="confirm-ok" class="danger">OK</button>
    </div>
  </form>
</dialog>

<dialog id="reset-dialog" aria-labelledby="reset-title">
  <form method="dialog">
    <h2 id="reset-title">Reset branch?</h2>
    <p id="reset-text"></p>
    <label for="reset-to">Reset to</label>
    <select id="reset-to"></select>
    <div class="actions">
      <button value="cancel" class="secondary">Cancel</button>
      <button value="ok" id="reset-ok" class="danger">Reset</button>
    </div>
  </form>
</dialog>

<dialog id="expiry-dialog" aria-labelledby="expiry-title">
  <form method="dialog">
    <h2 id="expiry-title">Expiry</h2>
    <p id="expiry-text" class="muted"></p>
    <label for="expiry-ttl">Expire in</label>
    <input id="expiry-ttl" placeholder="7d, 12h, 30m, 1d12h" autocomplete="off" spellcheck="false">
    <div class="actions">
      <button value="cancel" class="secondary">Cancel</button>
      <button value="never" class="secondary">Never expire</button>
      <button value="set" id="expiry-set">Set expiry</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #fff; --accent: #2859c5; --danger: #c0362c; --code-bg: #f2f4f7;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --line: #344054; --bg: #101828; --accent: #6f9cff; --code-bg: #1d2939; } }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.5rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.25rem; margin: 0; }
header p { margin: 0; }
header #logout { margin-left: auto; }
main { max-width: 110rem; padding: 1rem 1.5rem 3rem; }
section { margin-bottom: 2.5rem; }
h2 { font-size: 1.1rem; }
.muted { color: var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
pre { background: var(--code-bg); padding: .75rem 1rem; border-radius: 6px; overflow-x: auto; }
label.check { display: inline-flex; align-items: center; gap: .3rem; }
label.check input { margin: 0; }
form.inline { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: 1rem; }
#login-form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
input, select, button { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: transparent; color: inherit; }
select option { background: var(--bg); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; white-space: nowrap; }
button.secondary { background: transparent; color: var(--fg); border-color: var(--line); }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.small { padding: .1rem .5rem; font-size: .85rem; }
button:disabled { opacity: .5; cursor: default; }
button[aria-pressed="true"] { border-color: var(--accent); color: var(--accent); }
.toolbar { display: flex; flex-wrap: wrap; gap: .5rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.actions { text-align: right; }
td button + button, td code + button { margin-left: .35rem; }
/* A long URL is cut at its start, so the database name at its end stays in view (the title and Copy have it all). */
td.connection code { display: inline-block; vertical-align: middle; max-width: 14rem; overflow: hidden; text-overflow: ellipsis; direction: rtl; text-align: left; }
/* Should a table ever be wider than the screen, the name stays in view while it scrolls sideways. */
table.cards td.name, table.cards th:first-child { position: sticky; left: 0; background: var(--bg); z-index: 1; }
tr.snapshot td.name { font-style: italic; }
.tree { color: var(--muted); font-family: ui-monospace, monospace; white-space: pre; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.badge-ready { color: #1a7f37; }
.badge-creating, .badge-deleting { color: #9a6700; }
.badge-failed { color: var(--danger); }
.expired { color: var(--danger); }
.tag { margin-left: .5rem; font-size: .8rem; color: var(--muted); }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 6px; padding: .6rem .8rem; margin-bottom: 1rem; white-space: pre-line; }
.notice { min-height: 1.5rem; color: var(--muted); }
.estimate { color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
dialog { border: 1px solid var(--line); border-radius: 8px; color: var(--fg); background: var(--bg); max-width: min(32rem, 92vw); }
dialog .actions { display: flex; flex-wrap: wrap; justify-content: flex-end; gap: .5rem; margin-top: 1rem; }
dialog input, dialog select { width: 100%; margin-top: .25rem; }
/* A phone or a narrow window: each row becomes a card of label/value lines, nothing runs off the screen. */
@media (max-width: 1000px) {
  header, main { padding-left: 1rem; padding-right: 1rem; }
  table.cards thead { display: none; }
  table.cards, table.cards tbody, table.cards tr { display: block; width: 100%; }
  table.cards tr { border: 1px solid var(--line); border-radius: 8px; padding: .4rem .6rem; margin-bottom: .75rem; }
  table.cards td { display: flex; justify-content: space-between; align-items: center; gap: 1rem; border: 0; padding: .2rem 0; white-space: normal; text-align: right; }
  table.cards td::before { content: attr(data-label); color: var(--muted); font-size: .85rem; text-align: left; }
  table.cards td.actions { justify-content: flex-end; flex-wrap: wrap; gap: .35rem; }
  table.cards td button + button { margin-left: 0; }
  table.cards td.actions::before, table.cards td.name::before { content: none; }
  table.cards td.name { font-weight: 600; justify-content: flex-start; position: static; }
  table.cards td.connection code { max-width: 55vw; }
}
@media (max-width: 760px) {
  form.inline > * { flex: 1 1 40%; }
  form.inline label { flex-basis: 100%; }
}
`;

/** The tab's icon: a branch mark in the accent colour (served as /admin/favicon.svg). */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2859c5"/><g fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"><path d="M11 7v18"/><path d="M11 19c0-5 10-4 10-9"/></g><circle cx="11" cy="25" r="2.5" fill="#fff"/><circle cx="11" cy="7" r="2.5" fill="#fff"/><circle cx="21" cy="9" r="2.5" fill="#fff"/></svg>
`;
