import { Flags } from '@oclif/core';
import { pruneBranches } from '../branching/expiry.js';
import { resolveDatabase, type BranchContext, branchUrl } from '../branching/service.js';
import { UsageError } from '../output/errors.js';
import { type Client, withClient } from '../postgres/client.js';
import { withDatabase } from '../postgres/conninfo.js';
import { connectMaintenance, holdServingLock } from '../postgres/maintenance.js';
import { AdminAuth, resolveAdminPassword } from '../server/auth.js';
import { isLoopbackHost } from '../server/hosts.js';
import { AybServer, type PeriodicTask, type ServedDatabase } from '../server/server.js';
import { AybCommand } from './base.js';

type StopSignal = 'SIGINT' | 'SIGTERM';

export default class Start extends AybCommand {
  static override summary = 'Run the local server (health, admin API, dashboard) on main or a branch';
  static override description = `Runs in the foreground on [server] host:port (default 127.0.0.1:8090) until Ctrl-C or SIGTERM. It serves:
- GET /health: which database and branch it serves
- POST /api/admin/auth {"password"}: a token for the admin routes
- GET and POST /api/admin/branches, DELETE /api/admin/branches/<name>: the branches of main
- /admin: the dashboard (branches, and the tables of the served database)

With --branch, the server serves that ready branch's database instead of main; the admin API still manages the branches of main.

Every admin route needs a token. The admin password is AYB_ADMIN_PASSWORD or [admin] password; when neither is set, one is generated and printed once. The server listens on 127.0.0.1 unless told otherwise, and refuses any other address unless you chose the password. Expired branches are pruned at start and every [server] prune_interval_minutes.`;

  static override examples = [
    { description: 'Serve main on 127.0.0.1:8090', command: '<%= config.bin %> start' },
    { description: 'Work against an isolated copy', command: '<%= config.bin %> start --branch feature-auth' },
    { description: 'Another port, your own admin password', command: 'AYB_ADMIN_PASSWORD=… <%= config.bin %> start --port 9000' },
    { description: 'Reachable from the network (needs a password you chose)', command: 'AYB_ADMIN_PASSWORD=… <%= config.bin %> start --host 0.0.0.0' },
  ];

  static override flags = {
    branch: Flags.string({ char: 'b', description: 'serve this ready branch instead of main' }),
    host: Flags.string({ description: 'address to listen on [default: [server] host, 127.0.0.1]' }),
    port: Flags.integer({ char: 'p', min: 0, max: 65535, description: 'port to listen on; 0 picks a free one [default: [server] port, 8090]' }),
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
    const main = await this.mainDatabase(loaded);
    const ctx: BranchContext = { main: main.conn, config, log };
    const served = await servedDatabase(ctx, flags.branch);

    const server = new AybServer({
      host,
      port,
      ctx,
      served,
      auth: new AdminAuth({ password: password.value, tokenTtlMs: config.admin.token_ttl_minutes * 60_000 }),
      allowUrlSources: config.branching.allow_url_sources,
      periodic: periodicTasks(ctx, served, log),
      log,
    });
    // Held while the server runs, so `ayb branch delete` and prune elsewhere leave this branch alone.
    const servingLock = served.branch ? await holdServing(ctx, served.database) : undefined;
    const releaseServingLock = () => servingLock?.end().catch(() => undefined);
    const stopSignal = stopSignals((signal) => log(`\nStopping (${signal}) …`), log);
    const listening = await server.listen().catch(async (error: unknown) => {
      stopSignal.dispose();
      await releaseServingLock();
      throw error;
    });

    const databaseUrl = branchUrl(ctx, served.database);
    const where = `database ${served.database}${served.branch ? ` (branch ${served.branch})` : ' (main)'}`;
    if (this.writer.json) {
      this.writer.jsonDocument({
        url: listening.origin,
        dashboard_url: `${listening.origin}/admin`,
        database: served.database,
        branch: served.branch,
        database_url: databaseUrl,
        admin_password_source: password.source,
      });
    } else {
      this.writer.data(
        [
          `ayb listening on ${listening.origin} — serving ${where}`,
          `  Dashboard     ${listening.origin}/admin`,
          `  Database URL  ${databaseUrl}`,
          ...(main.conn.password ? [`                with the password: ayb branch url ${served.branch ?? 'main'}`] : []),
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

    const signal = await stopSignal.received;
    await server.shutdown(signal);
    await releaseServingLock();
    stopSignal.dispose();
    log('Stopped.');
    // Everything is closed; should anything still hold the event loop, do not let it keep the process.
    setTimeout(() => process.exit(), 1000).unref();
  }
}

/** A maintenance session holding the serving lock of `database` (see holdServingLock). */
async function holdServing(ctx: BranchContext, database: string): Promise<Client> {
  const client = await connectMaintenance(ctx.main);
  try {
    await holdServingLock(client, database);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** Main, or the ready branch named by --branch; checks that the database answers before serving it. */
async function servedDatabase(ctx: BranchContext, branch: string | undefined): Promise<ServedDatabase> {
  const { database, branch: record } = await resolveDatabase(ctx, branch ?? 'main');
  const conn = withDatabase(ctx.main, database);
  await withClient(conn, (client) => client.query('SELECT 1'));
  return { conn, database, branch: record?.name ?? null };
}

/**
 * Work repeated while the server runs: pruning expired branches at start and every
 * `[server] prune_interval_minutes` (0 disables). The served branch is never pruned under the server.
 */
function periodicTasks(ctx: BranchContext, served: ServedDatabase, log: (line: string) => void): PeriodicTask[] {
  const minutes = ctx.config.server.prune_interval_minutes;
  if (!(minutes > 0)) return [];
  const keep = new Map(served.branch ? [[served.branch, 'served by ayb start']] : []);
  return [{
    name: 'prune',
    intervalMs: minutes * 60_000,
    runAtStart: true,
    run: async (signal) => {
      const result = await pruneBranches(ctx, { keep, signal });
      for (const item of result.branches) {
        if (item.action === 'deleted') log(`Pruned branch "${item.name}" (${item.reasons.join(', ')})`);
        if (item.action === 'error') log(`Could not prune branch "${item.name}": ${item.detail ?? 'unknown error'}`);
      }
    },
  }];
}

/**
 * The first SIGINT/SIGTERM asks for a clean stop; a second one while stopping ends the process at
 * once, as users expect from pressing Ctrl-C twice.
 */
function stopSignals(onFirst: (signal: StopSignal) => void, log: (line: string) => void): { received: Promise<StopSignal>; dispose(): void } {
  let first: StopSignal | undefined;
  let resolveReceived: (signal: StopSignal) => void = () => undefined;
  const received = new Promise<StopSignal>((resolve) => {
    resolveReceived = resolve;
  });
  const handler = (signal: StopSignal) => () => {
    if (first) {
      log(`Stopping now (${signal}).`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    first = signal;
    onFirst(signal);
    resolveReceived(signal);
  };
  const onInt = handler('SIGINT');
  const onTerm = handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    received,
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
