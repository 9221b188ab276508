import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inSession, type OpenedContext } from '../branching/context.js';
import { AybError, ConflictError, InterruptedError, UsageError } from '../core/errors.js';
import { probeServedDatabase, type ServedDatabase } from '../branching/serving.js';
import type { Pooler } from '../pooler/pgbouncer.js';
import { addAdminRoutes } from './admin-api.js';
import type { AdminAuth } from './auth.js';
import { addDashboardRoutes } from './dashboard/routes.js';
import { errorResponse, HttpError } from './http-error.js';
import { httpOrigin, isLoopbackHost, isLoopbackHostHeader } from './hosts.js';
import { type Reply, Router } from './router.js';

/** Work the server repeats while it runs (pruning expired branches). */
export interface PeriodicTask {
  readonly name: string;
  readonly intervalMs: number;
  /** Also run once as soon as the server listens. */
  readonly runAtStart?: boolean;
  readonly run: (signal: AbortSignal) => Promise<void>;
}

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  /** The main database's context; the admin API manages main's branches. */
  readonly ctx: OpenedContext;
  readonly served: ServedDatabase;
  readonly auth: AdminAuth;
  readonly allowUrlSources: boolean;
  /** `--pooler`: branch URLs go through it, and a create pauses its source there (admin-api.ts). */
  readonly pooler?: Pooler;
  readonly periodic?: readonly PeriodicTask[];
  /** Request and lifecycle log lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** How long in-flight requests may take to finish at shutdown before long work is aborted. */
  readonly drainMs?: number;
  /** How long aborted work may take to clean up before connections are cut; default: until it has (a second signal exits at once). */
  readonly abortGraceMs?: number;
}

export interface Listening {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` */
  readonly origin: string;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
} as const;

/**
 * The local server of `ayb start`: `/health`, the admin API and the dashboard. Every `/api/admin/*`
 * route except the login needs a valid token, checked before routing so that even an unknown
 * admin path says nothing without one. Shutdown stops accepting, lets in-flight requests finish for
 * `drainMs`, then aborts long work (a branch create cleans up after itself) and closes connections.
 */
export class AybServer {
  private readonly http: Server;
  private readonly router = new Router();
  private readonly controller = new AbortController();
  private readonly checkHostHeader: boolean;
  private inflight = 0;
  private onIdle: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly runningTasks = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  private healthProbe: Promise<void> | undefined;

  constructor(private readonly options: ServerOptions) {
    this.checkHostHeader = isLoopbackHost(options.host);
    this.router.add('GET', '/health', () => this.health());
    addAdminRoutes(this.router, {
      ctx: options.ctx,
      auth: options.auth,
      served: options.served,
      allowUrlSources: options.allowUrlSources,
      pooler: options.pooler,
      signal: this.controller.signal,
    });
    addDashboardRoutes(this.router);
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  /** Starts listening; a busy port is a conflict (exit 4), an address not on this machine a usage error. */
  async listen(): Promise<Listening> {
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        this.http.off('listening', onListening);
        if (error.code !== 'EADDRINUSE') {
          reject(listenError(error, host, port));
          return;
        }
        // Busy: most often by an ayb start already running there, which says so on /health.
        void aybAt(host, port).then((other) => reject(other ? busyWithAyb(host, port, other) : listenError(error, host, port)));
      };
      const onListening = () => {
        this.http.off('error', onError);
        resolve();
      };
      this.http.once('error', onError);
      this.http.once('listening', onListening);
      this.http.listen(port, host);
    });
    for (const task of this.options.periodic ?? []) this.schedule(task);
    const address = this.http.address() as AddressInfo;
    return { host, port: address.port, origin: httpOrigin(host, address.port) };
  }

  /** Stops the server; safe to call more than once. `reason` names the signal that asked for it. */
  shutdown(reason: 'SIGINT' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    this.stopping ??= this.stop(reason);
    return this.stopping;
  }

  private async stop(reason: 'SIGINT' | 'SIGTERM'): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    const drained = await withinMs(this.idle(), this.options.drainMs ?? 2500);
    if (!drained) this.options.log?.(`Waiting for ${this.inflight} request(s) to stop and clean up …`);
    // Whatever still runs (a long create, a prune) is told to stop; it cleans up before answering.
    this.controller.abort(new InterruptedError(reason));
    // Unbounded unless asked: a point-in-time create stops its temporary cluster and drops its
    // partial database here, and exiting first left both behind (a second signal exits at once).
    const cleaned = Promise.all([this.idle(), ...this.runningTasks]).then(() => undefined);
    await (this.options.abortGraceMs === undefined ? cleaned : withinMs(cleaned, this.options.abortGraceMs));
    this.http.closeAllConnections();
    await closed;
  }

  private idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.onIdle;
      this.onIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  private schedule(task: PeriodicTask): void {
    const kick = () => {
      // Never two runs at once: a slow prune is not stacked on itself.
      if (this.runningTasks.size > 0 || this.controller.signal.aborted) return;
      const run = task
        .run(this.controller.signal)
        .catch((error: unknown) => {
          if (!this.controller.signal.aborted) this.options.log?.(`${task.name} failed: ${describe(error)}`);
        })
        .finally(() => this.runningTasks.delete(run));
      this.runningTasks.add(run);
    };
    const timer = setInterval(kick, task.intervalMs);
    timer.unref();
    this.timers.push(timer);
    if (task.runAtStart) kick();
  }

  private async health(): Promise<Reply> {
    const { database, branch } = this.options.served;
    // Concurrent health checks share one probe, so polling cannot multiply database connections.
    this.healthProbe ??= probeServedDatabase(this.options.served).finally(() => {
      this.healthProbe = undefined;
    });
    try {
      await this.healthProbe;
      return { status: 200, json: { status: 'ok', database, branch, pid: process.pid } };
    } catch (error) {
      const { body } = errorResponse(error);
      return { status: 503, json: { status: 'unavailable', database, branch, ...body } };
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    this.inflight++;
    res.once('close', () => {
      this.inflight--;
      if (this.inflight === 0) {
        const notify = this.onIdle;
        this.onIdle = undefined;
        notify?.();
      }
    });
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://ayb.invalid');
    let reply: Reply;
    try {
      if (this.checkHostHeader && !isLoopbackHostHeader(req.headers.host)) {
        throw new HttpError(421, 'host_not_allowed', `this server answers only to localhost, not to "${req.headers.host ?? ''}"`, {
          hint: 'open it as http://127.0.0.1:<port> or http://localhost:<port>',
        });
      }
      if (isAdminPath(url.pathname) && url.pathname !== '/api/admin/auth') this.options.auth.verify(req.headers.authorization);
      const { handler, params } = this.router.match(method, url.pathname);
      // One request, one command: one session on main (branching/session.ts).
      reply = await inSession(this.options.ctx, async () => handler({ req, url, params }));
    } catch (error) {
      const response = errorResponse(error);
      if (response.status === 500) this.options.log?.(`error: ${method} ${url.pathname}: ${describe(error)}`);
      reply = { status: response.status, json: response.body, headers: response.headers };
    }
    this.send(req, res, reply);
    const quiet = reply.status < 400 && (url.pathname === '/health' || !url.pathname.startsWith('/api/'));
    if (!quiet) this.options.log?.(`${method} ${url.pathname} ${reply.status} ${Math.round(performance.now() - started)}ms`);
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    if (res.headersSent || res.destroyed) return;
    const isJson = 'json' in reply;
    const body = isJson ? JSON.stringify(reply.json) + '\n' : reply.text;
    res.statusCode = reply.status;
    for (const [key, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(key, value);
    res.setHeader('Content-Type', isJson ? 'application/json; charset=utf-8' : reply.contentType);
    res.setHeader('Content-Length', Buffer.byteLength(body));
    if (isJson) res.setHeader('Cache-Control', 'no-store');
    for (const [key, value] of Object.entries(reply.headers ?? {})) res.setHeader(key, value);
    // An unread body (413) or a server on its way down: do not keep the connection.
    if (reply.status === 413 || this.stopping) res.setHeader('Connection', 'close');
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

function isAdminPath(pathname: string): boolean {
  return pathname === '/api/admin' || pathname.startsWith('/api/admin/');
}

interface OtherAyb {
  readonly pid?: number;
  readonly database?: string;
  readonly branch?: string | null;
}

/** The ayb start answering on host:port, from its /health; undefined when what is there is not ayb. */
async function aybAt(host: string, port: number): Promise<OtherAyb | undefined> {
  const address = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  try {
    const response = await fetch(`http://${address}:${port}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as Record<string, unknown>;
    if (typeof body.status !== 'string' || typeof body.database !== 'string' || !('branch' in body)) return undefined;
    return { pid: typeof body.pid === 'number' ? body.pid : undefined, database: body.database, branch: body.branch as string | null };
  } catch {
    return undefined;
  }
}

function busyWithAyb(host: string, port: number, other: OtherAyb): ConflictError {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/admin`;
  const what = `${other.database}${other.branch ? ` (branch ${other.branch})` : ' (main)'}`;
  return new ConflictError('port_in_use', `cannot listen on ${host}:${port}: ayb start already runs there${other.pid ? ` (pid ${other.pid})` : ''}, serving ${what} at ${url}`, {
    hint: `use that one, stop it (Ctrl-C where it runs${other.pid ? `, or kill ${other.pid}` : ''}), or choose another port with --port or [server] port`,
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): AybError {
  const where = `${host}:${port}`;
  if (error.code === 'EADDRINUSE') {
    return new ConflictError('port_in_use', `cannot listen on ${where}: another program uses that port`, {
      hint: 'stop the other program, or choose another port with --port or [server] port',
    });
  }
  if (error.code === 'EACCES') {
    return new UsageError(`cannot listen on ${where}: permission denied`, { hint: 'use a port above 1023' }, 'listen_failed');
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return new UsageError(`cannot listen on ${where}: no such address on this machine`, {
      hint: 'use --host 127.0.0.1 (the default), or an address of one of this machine\'s interfaces',
    }, 'listen_failed');
  }
  return new AybError('listen_failed', 1, `cannot listen on ${where}: ${error.message}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether `promise` settled within `ms`. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
