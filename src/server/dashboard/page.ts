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
        <input id="branch-name" name="name" placeholder="feature-auth" autocomplete="off" spellcheck="false" required>
        <label for="branch-from">From</label>
        <select id="branch-from" name="from"><option value="main">main</option></select>
        <button type="submit" id="create-button">Create branch</button>
      </form>
      <table id="branches">
        <thead><tr><th>Name</th><th>Status</th><th>Source</th><th>Strategy</th><th>Size</th><th>Created</th><th>Expires</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="branches-empty" class="muted" hidden>No branches yet. Create one above.</p>
    </section>

    <section aria-labelledby="database-title">
      <h2 id="database-title">Database <code id="database-name"></code></h2>
      <p class="muted">Tables of the database this server serves. Rows are exact for small tables; <span class="estimate">~</span> marks an estimate from PostgreSQL's statistics.</p>
      <button id="refresh-tables" type="button" class="secondary">Refresh</button>
      <table id="tables">
        <thead><tr><th>Table</th><th class="num">Rows</th><th class="num">Size</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="tables-empty" class="muted" hidden>No tables.</p>
    </section>
  </div>
</main>

<dialog id="confirm-delete" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Delete branch?</h2>
    <p id="confirm-text"></p>
    <div class="actions">
      <button value="cancel" class="secondary">Cancel</button>
      <button value="delete" class="danger">Delete</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --bg: #fff; --accent: #2859c5; --danger: #c0362c;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --line: #344054; --bg: #101828; --accent: #6f9cff; } }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: .75rem 2rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.25rem; margin: 0; }
header #logout { margin-left: auto; }
main { max-width: 72rem; padding: 1rem 2rem 3rem; }
section { margin-bottom: 2.5rem; }
h2 { font-size: 1.1rem; }
.muted { color: var(--muted); }
code { font-size: .9em; }
form.inline { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: 1rem; }
#login-form { display: flex; gap: .5rem; align-items: center; }
input, select, button { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: transparent; color: inherit; }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: transparent; color: var(--fg); border-color: var(--line); }
button.danger { background: var(--danger); border-color: var(--danger); }
button:disabled { opacity: .5; cursor: default; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; border: 1px solid currentColor; }
.badge-ready { color: #1a7f37; }
.badge-creating { color: #9a6700; }
.badge-failed { color: var(--danger); }
.tag { margin-left: .5rem; font-size: .8rem; color: var(--muted); }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 6px; padding: .6rem .8rem; margin-bottom: 1rem; white-space: pre-line; }
.notice { min-height: 1.5rem; color: var(--muted); }
.estimate { color: var(--muted); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
dialog { border: 1px solid var(--line); border-radius: 8px; color: var(--fg); background: var(--bg); max-width: 32rem; }
dialog .actions { display: flex; justify-content: flex-end; gap: .5rem; }
`;
