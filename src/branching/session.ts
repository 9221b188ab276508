import { AsyncLocalStorage } from 'node:async_hooks';
import { AybError } from '../core/errors.js';
import { type Client, connect, queryError, sqlState, SqlState } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { healAbandonedRefusals } from '../postgres/connection-guard.js';
import { forgetStaleRefusals } from '../postgres/refusal-record.js';
import { sessionTimeouts } from '../postgres/timeouts.js';
import type { BranchContext } from './context.js';
import { ensureControlTable, forgetControlTable } from './control-table.js';
import { finishInterruptedWork } from './recovery.js';

/**
 * The one session on main a command works in (the CLI's command, one library call, one admin API
 * request): it owns the control table, recovery and ayb's timeouts, and is opened in one place,
 * here, on first use:
 *
 * 1. connect with ayb's limits (postgres/timeouts.ts), letting main in again first when an ayb
 *    process that was cut off left it refusing connections (`onRefused`);
 * 2. the control table at its current schema version (control-table.ts: one query when it is);
 * 3. recovery, explicitly: what interrupted commands left is finished (recovery.ts, once per process
 *    and server), and databases a cut-off process left refusing connections are let in again.
 *
 * Every `withControl` of the command then runs on this one connection, one at a time (nested calls
 * run inline on it). A copy *of main* needs main to itself (CREATE DATABASE … TEMPLATE refuses while
 * anyone is connected, ayb included), so the copy `release()`s the session first; the next
 * `withControl` connects again, without repeating steps 2 and 3.
 *
 * ayb's branch locks are not held here but on a maintenance session (locks.ts, maintenance.ts): they
 * must outlive a release, and main must stay free of them.
 */
export class ControlSession {
  private client?: Client;
  private opened = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inside = new AsyncLocalStorage<Client>();
  /** Closed at the end of its command: a late caller gets a session of its own instead. */
  closed = false;
  /** Sessions opened on main so far (1 for most commands; 2 for a copy of main). For the bench and tests. */
  connections = 0;

  constructor(
    private readonly ctx: BranchContext,
    private readonly onRefused: (error: AybError) => Promise<void>,
  ) {}

  /** Runs `fn` on the session, after any call already running on it; inside one, runs at once. */
  run<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const current = this.inside.getStore();
    if (current) return fn(current);
    const turn = this.queue.then(() => this.runNow(fn));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Closes the connection (a copy of main is next); the next `run` opens a new one. */
  async release(): Promise<void> {
    if (this.inside.getStore()) throw new Error('ControlSession.release() called inside withControl');
    const turn = this.queue.then(() => this.end());
    this.queue = turn.catch(() => undefined);
    await turn;
  }

  /** The end of the command. */
  close(): Promise<void> {
    this.closed = true;
    return this.release();
  }

  /** Whether this is a session on `main` (the same server, database and user). */
  serves(main: ConnInfo): boolean {
    const own = this.ctx.main;
    return own === main || (own.host === main.host && own.port === main.port && own.database === main.database && own.user === main.user);
  }

  private async runNow<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.open();
    try {
      return await this.inside.run(client, () => fn(client));
    } catch (error) {
      // A connection the server ended (a --disconnect of main, a restart) is not used again.
      if (!alive(client)) await this.end();
      // The table dropped by hand meanwhile: made again by the next command.
      if (sqlState(error) === SqlState.undefinedTable) forgetControlTable(this.ctx.main);
      throw queryError(error, this.ctx.main);
    }
  }

  private async open(): Promise<Client> {
    if (this.client && alive(this.client)) return this.client;
    this.client = undefined;
    const client = watch(await this.connect());
    this.connections += 1;
    try {
      if (!this.opened) {
        await ensureControlTable(client, this.ctx.main);
        await finishInterruptedWork(this.ctx, client);
        this.opened = true;
        await this.healCutOffProcesses();
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      throw queryError(error, this.ctx.main);
    }
    this.client = client;
    return client;
  }

  private async connect(): Promise<Client> {
    try {
      return await connect(this.ctx.main, sessionTimeouts());
    } catch (error) {
      if (!(error instanceof AybError && error.code === 'connections_refused' && error.details?.database === this.ctx.main.database)) throw error;
      await this.onRefused(error);
      return connect(this.ctx.main, sessionTimeouts());
    }
  }

  /**
   * Main accepts connections, so a note about it is stale (someone allowed them by hand) and
   * forgotten; a branch that a cut-off rename or reset left refusing connections, with its guard
   * gone, is let in again. Never fails the command: this is housekeeping.
   */
  private async healCutOffProcesses(): Promise<void> {
    forgetStaleRefusals(this.ctx.main, this.ctx.main.database);
    const healed = await healAbandonedRefusals(this.ctx.main).catch(() => []);
    for (const database of healed) {
      (this.ctx.notice ?? this.ctx.log)?.(`Database "${database}" was left refusing connections by an ayb process that was cut off; allowed connections again.`);
    }
  }

  private async end(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** Connections that ended or failed (the server ended them, a restart): never used again. */
const dead = new WeakSet<Client>();

function watch(client: Client): Client {
  client.once('end', () => dead.add(client));
  client.on('error', () => dead.add(client));
  return client;
}

function alive(client: Client): boolean {
  return !dead.has(client);
}
