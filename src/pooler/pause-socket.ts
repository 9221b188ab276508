import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ConnInfo } from '../postgres/conninfo.js';
import type { PauseHold, Pooler } from './pgbouncer.js';

/**
 * How a copy made outside `ayb start --pooler` (the CLI, the library) gets the same pause as one made
 * through its admin API: the server listens on a Unix socket of its own in `~/.ayb/poolers/`
 * (`AYB_STATE_DIR` moves it; the folder is 0700, the socket 0600: only the user who runs the server
 * can ask), named after the main database's host, port and name. A copy connects, says
 * `{"pause":"<database>"}`, is answered `{"paused":true|false}` once the pooler has paused it (or
 * could not), copies, and hangs up: the server lets the pause go when the connection closes, so a
 * copy that crashes or is killed never leaves the database paused. The server counts the holds of a
 * database (pgbouncer.ts), so creates from the CLI and the API at once share one pause.
 *
 * No socket (no server, or one without --pooler): the copy runs as without a pooler, for the cost
 * of one `existsSync`. A socket left by a server that was killed refuses the connection: the same.
 * Nothing secret crosses it: no password, no URL.
 */

/** `fn` with `database` paused by the `ayb start --pooler` serving `main`, when one does. */
export type PauseRunner = <T>(database: string, fn: () => Promise<T>) => Promise<T>;

export function poolerSocketDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.AYB_STATE_DIR || path.join(os.homedir(), '.ayb'), 'poolers');
}

export function poolerSocketPath(main: ConnInfo, env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash('sha256').update(`${main.host}\0${main.port}\0${main.database}`).digest('hex').slice(0, 16);
  return path.join(poolerSocketDir(env), `${key}.sock`);
}

/** How long a copy waits for the server's answer (the pause itself waits up to 10 s for transactions). */
const ANSWER_MS = 15_000;

/**
 * Serves pauses to other processes; undefined (with a note) when another live server already has
 * the socket of this main. Close it before the pooler stops.
 */
export async function servePauses(pooler: Pooler, main: ConnInfo, log?: (line: string) => void): Promise<{ readonly socket: string; close(): Promise<void> } | undefined> {
  const socket = poolerSocketPath(main);
  mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  if (existsSync(socket)) {
    if (await answers(socket)) {
      log?.(`note: another ayb start --pooler serves ${main.database} (${socket}); CLI copies pause through that one`);
      return undefined;
    }
    rmSync(socket, { force: true });
  }
  const connections = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    connections.add(conn);
    let hold: Promise<PauseHold | undefined> | undefined;
    let text = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      text += chunk;
      if (hold || !text.includes('\n') || text.length > 1000) return;
      const database = requested(text.slice(0, text.indexOf('\n')));
      if (database === undefined) {
        conn.end('{"paused":false}\n');
        return;
      }
      hold = pooler.hold(database).then((held) => {
        conn.write(JSON.stringify({ paused: held.paused }) + '\n');
        return held;
      }, () => {
        conn.end('{"paused":false}\n');
        return undefined;
      });
    });
    conn.on('error', () => undefined);
    conn.on('close', () => {
      connections.delete(conn);
      void hold?.then((held) => held?.release());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socket, 0o600);
  return {
    socket,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const conn of connections) conn.destroy();
      });
      rmSync(socket, { force: true });
    },
  };
}

function requested(line: string): string | undefined {
  try {
    const body = JSON.parse(line) as { pause?: unknown };
    return typeof body.pause === 'string' && body.pause.length > 0 && body.pause.length < 64 ? body.pause : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pause runner of the `ayb start --pooler` serving `main`, or undefined when none does. A
 * server that does not answer (gone, or stuck) is taken as none: the copy goes on without a pause.
 */
export function servingPooler(main: ConnInfo, log?: (line: string) => void): PauseRunner | undefined {
  const socket = poolerSocketPath(main);
  if (!existsSync(socket)) return undefined;
  return async <T>(database: string, fn: () => Promise<T>): Promise<T> => {
    const held = await askPause(socket, database).catch((error: unknown) => {
      log?.(`note: the pooler of ayb start did not pause ${database} (${(error as Error).message}); copying without`);
      return undefined;
    });
    try {
      return await fn();
    } finally {
      held?.destroy();
    }
  };
}

/** Connects and asks; resolves with the open connection (the pause lasts as long as it does). */
function askPause(socket: string, database: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let text = '';
    const timer = setTimeout(() => fail(new Error('no answer')), ANSWER_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      conn.destroy();
      reject(error);
    };
    conn.setEncoding('utf8');
    conn.once('error', fail);
    conn.once('connect', () => conn.write(JSON.stringify({ pause: database }) + '\n'));
    conn.on('data', (chunk: string) => {
      text += chunk;
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      conn.off('error', fail);
      conn.on('error', () => undefined);
      resolve(conn);
    });
    conn.once('close', () => fail(new Error('the server hung up')));
  });
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    conn.once('connect', () => { conn.destroy(); resolve(true); });
    conn.once('error', () => resolve(false));
  });
}
