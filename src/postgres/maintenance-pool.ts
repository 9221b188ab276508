import type { Client } from './client.js';
import type { ConnInfo } from './conninfo.js';
import { connectMaintenance } from './maintenance.js';
import { NO_IDLE_SESSION_TIMEOUT_SQL, sessionTimeouts, timeoutStatements } from './timeouts.js';

/**
 * The maintenance sessions (`postgres`) of a long-lived process (the library's `Ayb`, `ayb start`),
 * kept between its commands instead of a connection per command: on a loaded machine a connection
 * (a backend fork and authentication) costs more than all of a command's statements.
 *
 * Only maintenance sessions are kept, never sessions on main: an idle session on main is a session
 * on the source of every template copy of main, so every other process's copy of it (another ayb's
 * create, a bare `CREATE DATABASE … TEMPLATE`) would find main busy.
 *
 * A session comes back clean or not at all: once its command is done (`end()` of the lease) it is
 * reset in one round trip, off the command's path (`RESET ALL`, `pg_advisory_unlock_all()`, ayb's
 * limits again), and kept only if that succeeds with no transaction open; a session the server
 * ended (or that failed) is never handed out again. An idle kept session does not keep Node's event
 * loop alive (unref), so a program that never calls `close()` still exits.
 */
export class MaintenancePool {
  private readonly idle: Client[] = [];
  private readonly resetting = new Set<Promise<void>>();
  private closed = false;
  /** Connections opened so far, for the bench and tests. */
  connections = 0;

  constructor(
    private readonly main: ConnInfo,
    private readonly max = 2,
  ) {}

  /** Whether this pool serves `main`'s server as that user. */
  serves(main: ConnInfo): boolean {
    const own = this.main;
    return own === main || (own.host === main.host && own.port === main.port && own.user === main.user && own.password === main.password);
  }

  /** A maintenance session for one command; its `end()` gives it back. */
  async acquire(): Promise<Client> {
    for (;;) {
      const client = this.idle.pop();
      if (client) {
        if (!usable(client)) {
          await endKept(client);
          continue;
        }
        (client as unknown as Refable).ref();
        return lease(client, (c) => this.release(c));
      }
      // A session being reset is back in a round trip: cheaper than a new connection.
      if (this.resetting.size === 0) break;
      await Promise.race(this.resetting);
    }
    const client = await connectMaintenance(this.main);
    this.connections += 1;
    watch(client);
    return lease(client, (c) => this.release(c));
  }

  /** Ends every kept session; sessions still leased end when given back. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.resetting]);
    const idle = this.idle.splice(0);
    await Promise.allSettled(idle.map(endKept));
  }

  private release(client: Client): void {
    if (this.closed || !usable(client) || client.getTransactionStatus() !== 'I') {
      void client.end().catch(() => undefined);
      return;
    }
    const reset = client
      .query(`RESET ALL; SELECT pg_advisory_unlock_all(); ${timeoutStatements(sessionTimeouts())}; ${NO_IDLE_SESSION_TIMEOUT_SQL}`)
      .then(
        () => {
          if (this.closed || this.idle.length >= this.max || !usable(client) || client.getTransactionStatus() !== 'I') {
            void client.end().catch(() => undefined);
            return;
          }
          (client as unknown as Refable).unref();
          this.idle.push(client);
        },
        () => void client.end().catch(() => undefined),
      )
      .finally(() => this.resetting.delete(reset));
    this.resetting.add(reset);
  }
}

/** pg's Client has these (its socket's), its types do not. */
type Refable = { ref(): void; unref(): void };

/**
 * Ends a kept (unref'd) session: ref'd again first, or a process with nothing else to do would
 * exit before the end is done, with its `await close()` never settled (exit code 13).
 */
async function endKept(client: Client): Promise<void> {
  (client as unknown as Refable).ref();
  await client.end().catch(() => undefined);
}

/** Sessions the server ended or that failed: never handed out again. */
const dead = new WeakSet<Client>();

function watch(client: Client): void {
  client.once('end', () => dead.add(client));
  client.on('error', () => dead.add(client));
}

function usable(client: Client): boolean {
  return !dead.has(client);
}

/** The underlying session of a lease (for caches keyed by connection, such as the server's facts). */
export const LEASED = Symbol('ayb.leased');

/**
 * One command's hold on a kept session: `end()` gives it back (once; again is a no-op), after which
 * the lease refuses queries, so a late caller can never send a statement on a session another
 * command holds by then.
 */
function lease(client: Client, release: (client: Client) => void): Client {
  let released = false;
  const end = async (): Promise<void> => {
    if (released) return;
    released = true;
    release(client);
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === LEASED) return target;
      if (property === 'end') return end;
      if (released && property === 'query') return () => Promise.reject(new Error('this maintenance session was given back to its pool'));
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The session under a lease, or the client itself. */
export function underlying(client: Client): Client {
  return ((client as unknown as Record<symbol, Client | undefined>)[LEASED]) ?? client;
}
