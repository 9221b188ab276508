import { Flags } from '@oclif/core';
import { branchConn, branchUrl, withMaintenancePool } from '../branching/context.js';
import { UsageError } from '../core/errors.js';
import { resolveAdminPassword } from '../server/auth.js';
import { isLoopbackHost } from '../server/hosts.js';
import { runServer } from '../server/run.js';
import { DatabaseCommand } from './base.js';

export default class Start extends DatabaseCommand {
  static override summary = 'Run the local server (health, admin API, dashboard) on main or a branch';
  static override description = `Runs in the foreground on [server] host:port (default 127.0.0.1:8090) until Ctrl-C or SIGTERM. It serves:
- GET /health: which database and branch it serves
- POST /api/admin/auth {"password"}: a token for the admin routes
- GET and POST /api/admin/branches, DELETE /api/admin/branches/<name>, and /url, /reset, /expire under it: the branches of main (POST {"name", "from"?, "masked"?, "ttl"?}: "from" may be main@<time>, as --from main@-2h; "masked": true as --masked)
- GET /api/admin/branches/<name>/data-diff: the branch's rows against its parent's, per table (as ayb branch diff <parent> <name> --data --json)
- GET and POST /api/admin/snapshots, DELETE /api/admin/snapshots/<name>: the snapshots
- GET /api/admin/diff?from=main&to=<branch>: a schema diff
- /admin: the dashboard (the branch tree with URLs, diff, data changes on request, reset, expiry; masked and point-in-time creates; snapshots; the tables of the served database)

With --pooler, it also runs a PgBouncer (transaction pooling; Debian package pgbouncer) on a free local port: the branch URLs of the admin API go through it (--json: pooler_url for the served database), and a create from main or a branch pauses that database in the pooler for the copy (PAUSE, template copy, RESUME), so clients connected through it keep their connections and the copy needs no dump. That holds for creates made through the admin API and for "ayb branch create" and the library on the same machine while the server runs (they ask it through a socket in ~/.ayb/poolers/, or AYB_STATE_DIR). Under transaction pooling a client keeps its connection but no session state between transactions (SET, session advisory locks, LISTEN, temporary tables, prepared statements); a transaction still open when a copy starts is waited for up to 10 s, then the copy goes on without the pause (a dump if the source is busy).

With --branch, the server serves that ready branch's database instead of main; the admin API still manages the branches of main.

Every admin route needs a token. The admin password is AYB_ADMIN_PASSWORD or [admin] password; when neither is set, one is generated and printed once. The server listens on 127.0.0.1 unless told otherwise, and refuses any other address unless you chose the password. Expired branches are pruned at start and every [server] prune_interval_minutes.`;

  static override examples = [
    { description: 'Serve main on 127.0.0.1:8090', command: '<%= config.bin %> start' },
    { description: 'Work against an isolated copy', command: '<%= config.bin %> start --branch feature-auth' },
    { description: 'Another port, your own admin password', command: 'AYB_ADMIN_PASSWORD=… <%= config.bin %> start --port 9000' },
    { description: 'Branch databases agents are connected to without a dump: URLs through a PgBouncer ayb runs', command: '<%= config.bin %> start --pooler' },
    { description: 'Reachable from the network (needs a password you chose)', command: 'AYB_ADMIN_PASSWORD=… <%= config.bin %> start --host 0.0.0.0' },
  ];

  static override flags = {
    branch: Flags.string({ char: 'b', description: 'serve this ready branch instead of main' }),
    host: Flags.string({ description: 'address to listen on [default: [server] host, 127.0.0.1]' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, description: 'port to listen on; 0 picks a free one [default: [server] port, 8090]' }),
    pooler: Flags.boolean({ description: 'run a PgBouncer (transaction pooling) for the branches: the API gives URLs through it, and a create pauses its source there instead of dumping a busy one' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Start);
    this.setOutput(flags);
    const loaded = await this.loadConfig(flags);
    const { config } = loaded;
    const host = flags.host ?? config.server.host;
    const port = flags.port ?? config.server.port;
    const password = resolveAdminPassword(config.admin.password);
    if (!isLoopbackHost(host) && password.source === 'generated') {
      throw new UsageError(`refusing to listen on ${host}, which other machines can reach, without an admin password you chose`, {
        hint: 'set AYB_ADMIN_PASSWORD (or [admin] password in ayb.toml), or keep the default --host 127.0.0.1',
      }, 'insecure_host');
    }

    const log = (line: string) => this.writer.log(line);
    // The server's requests keep their maintenance sessions between them (maintenance-pool.ts).
    const ctx = withMaintenancePool(await this.branchContext(flags, loaded));
    const running = await runServer({ ctx, host, port, branch: flags.branch, password, log, pooler: flags.pooler });
    const { served } = running;

    const databaseUrl = branchUrl(ctx, served.database);
    const poolerUrl = running.pooler?.url(branchConn(ctx, served.database));
    const where = `database ${served.database}${served.branch ? ` (branch ${served.branch})` : ' (main)'}`;
    if (this.writer.json) {
      this.writer.jsonDocument({
        url: running.origin,
        dashboard_url: `${running.origin}/admin`,
        database: served.database,
        branch: served.branch,
        database_url: databaseUrl,
        // With --pooler: the served database through the pooler (password masked), what clients should use.
        ...(poolerUrl ? { pooler_url: poolerUrl } : {}),
        admin_password_source: password.source,
      });
    } else {
      this.writer.data(
        [
          `ayb listening on ${running.origin} — serving ${where}`,
          `  Dashboard     ${running.origin}/admin`,
          `  Database URL  ${databaseUrl}`,
          ...(poolerUrl ? [`  Pooler URL    ${poolerUrl}  (transaction pooling: connect agents here)`] : []),
          ...(ctx.main.password ? [`                with the password: ayb branch url ${served.branch ?? 'main'}`] : []),
        ].join('\n'),
      );
    }
    if (password.source === 'generated') {
      // A secret, so never part of the JSON document; shown once, on the terminal.
      process.stderr.write(
        `Admin password (generated, shown only this once): ${password.value}\n` +
          'Set AYB_ADMIN_PASSWORD or [admin] password in ayb.toml to choose your own.\n',
      );
    } else if (!isLoopbackHost(host) && password.value.length < 12) {
      log('warning: the admin password is shorter than 12 characters and this server is reachable from other machines');
    }
    if (!isLoopbackHost(host)) log('warning: the server speaks plain HTTP; put it behind TLS before exposing it beyond a trusted network');
    log('Press Ctrl-C to stop.');

    await running.stopped;
    await ctx.maintenance.close();
    log('Stopped.');
    // Everything is closed; should anything still hold the event loop, do not let it keep the process.
    setTimeout(() => process.exit(), 1000).unref();
  }
}
