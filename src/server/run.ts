import { pruneBranches } from '../branching/expiry.js';
import { keepHistory } from '../branching/point-in-time.js';
import type { OpenedContext } from '../branching/context.js';
import { holdServing, type ServedDatabase, servedDatabase } from '../branching/serving.js';
import { servePauses } from '../pooler/pause-socket.js';
import { type Pooler, startPooler } from '../pooler/pgbouncer.js';
import { AdminAuth, type AdminPassword } from './auth.js';
import { AybServer, type PeriodicTask } from './server.js';

type StopSignal = 'SIGINT' | 'SIGTERM';

export interface RunServerOptions {
  readonly ctx: OpenedContext;
  readonly host: string;
  readonly port: number;
  /** `--branch`: serve this ready branch instead of main. */
  readonly branch?: string;
  readonly password: AdminPassword;
  readonly log: (line: string) => void;
  /** `--pooler`: run a PgBouncer for the branches it manages (pooler/pgbouncer.ts). */
  readonly pooler?: boolean;
}

export interface RunningServer {
  /** `http://host:port` */
  readonly origin: string;
  readonly served: ServedDatabase;
  /** The pooler its branch URLs go through, with --pooler. */
  readonly pooler?: Pooler;
  /** Settles once a SIGINT or SIGTERM has stopped the server cleanly. */
  readonly stopped: Promise<void>;
}

/**
 * `ayb start`: serves main or a ready branch until SIGINT or SIGTERM. While it runs it holds the
 * served branch's serving lock (so delete and prune elsewhere leave that branch alone), and prunes
 * expired branches at start and every `[server] prune_interval_minutes`.
 */
export async function runServer(options: RunServerOptions): Promise<RunningServer> {
  // A server is no one command: it must not hold the command's session on main for hours (a
  // template copy of main would find it there). Each request gets a session of its own (server.ts).
  const { log } = options;
  const ctx: OpenedContext = { ...options.ctx, session: undefined };
  const served = await servedDatabase(ctx, options.branch);
  const pooler = options.pooler ? await startPooler({ main: ctx.main, log }) : undefined;
  // The CLI and the library pause through this server's pooler too (pooler/pause-socket.ts).
  const pauses = pooler ? await servePauses(pooler, ctx.main, log).catch(async (error: unknown) => {
    log(`note: CLI creates will not pause through this pooler (${(error as Error).message})`);
    return undefined;
  }) : undefined;
  const stopPooler = async () => {
    await pauses?.close().catch(() => undefined);
    await pooler?.stop().catch(() => undefined);
  };
  const server = new AybServer({
    host: options.host,
    port: options.port,
    ctx,
    served,
    auth: new AdminAuth({ password: options.password.value, tokenTtlMs: ctx.config.admin.token_ttl_minutes * 60_000 }),
    allowUrlSources: ctx.config.branching.allow_url_sources,
    pooler,
    periodic: periodicTasks(ctx, served, log),
    log,
  });
  const servingLock = served.branch ? await holdServing(ctx, served.database) : undefined;
  const releaseServingLock = () => servingLock?.end().catch(() => undefined);
  const stopSignal = stopSignals((signal) => log(`\nStopping (${signal}) …`), log);
  const listening = await server.listen().catch(async (error: unknown) => {
    stopSignal.dispose();
    await releaseServingLock();
    await stopPooler();
    throw error;
  });
  const stopped = stopSignal.received.then(async (signal) => {
    await server.shutdown(signal);
    await releaseServingLock();
    await stopPooler();
    stopSignal.dispose();
  });
  return { origin: listening.origin, served, pooler, stopped };
}

/**
 * Work repeated while the server runs: pruning expired branches at start and every
 * `[server] prune_interval_minutes` (0 disables). The served branch is never pruned under the server.
 */
function periodicTasks(ctx: OpenedContext, served: ServedDatabase, log: (line: string) => void): PeriodicTask[] {
  const tasks: PeriodicTask[] = [];
  // [history]: a base backup on schedule (checked hourly), and pruning what falls outside the window.
  if (ctx.history) tasks.push({ name: 'history', intervalMs: 3600_000, runAtStart: false, run: () => keepHistory(ctx) });
  const minutes = ctx.config.server.prune_interval_minutes;
  if (!(minutes > 0)) return tasks;
  const keep = new Map(served.branch ? [[served.branch, 'served by ayb start']] : []);
  return [...tasks, {
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
