import { spawnCli, type CliOptions } from './cli.js';

/** A running `ayb start`, spawned from the built CLI as a user would run it. */
export interface RunningServer {
  /** `http://127.0.0.1:<port>` from the listening line. */
  readonly origin: string;
  readonly pid: number;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr contains `text` (bounded by `timeoutMs`). */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ exitCode: number | undefined; signal: string | undefined }>;
  fetch(path: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  /** Logs in with `password` and returns the token. */
  login(password: string): Promise<string>;
}

/** The listening line, or the `url` of the JSON document printed with `--json`. */
const LISTENING = /ayb listening on (http:\/\/\S+)|^ {2}"url": "(http:\/\/[^"]+)"/m;

/**
 * Starts `ayb start <args>` (with `--port 0` unless a port is given) and resolves when it prints
 * its listening line; rejects with its output if it exits first or does not listen in time.
 */
export async function startServer(args: readonly string[], options: CliOptions & { startTimeoutMs?: number } = {}): Promise<RunningServer> {
  const argv = ['start', ...args, ...(args.includes('--port') ? [] : ['--port', '0'])];
  const child = spawnCli(argv, { ...options, timeout: options.timeout ?? 300_000 });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    changed();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    changed();
  });
  let exited = false;
  const finished = child.then((result) => {
    exited = true;
    changed();
    return result;
  });

  const waitFor = (test: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (test()) {
          cleanup();
          resolve();
        } else if (exited) {
          cleanup();
          reject(new Error(`ayb ${argv.join(' ')} exited before ${what}.\nstdout: ${out}\nstderr: ${err}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}.\nstdout: ${out}\nstderr: ${err}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  await waitFor(() => LISTENING.test(out), 'the listening line', options.startTimeoutMs ?? 60_000);
  const match = LISTENING.exec(out)!;
  const origin = (match[1] ?? match[2]!).replace('0.0.0.0', '127.0.0.1');

  const server: RunningServer = {
    origin,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    waitForStderr: (text, timeoutMs = 30_000) =>
      waitFor(() => (typeof text === 'string' ? err.includes(text) : text.test(err)), `stderr to show ${String(text)}`, timeoutMs),
    async stop(signal = 'SIGTERM') {
      if (exited) {
        const result = await finished;
        return { exitCode: result.exitCode, signal: result.signal };
      }
      // Not child.kill(): execa follows it with SIGKILL after 5 s (forceKillAfterDelay), so a clean
      // shutdown that takes longer on a loaded machine was reported as killed (a timed test).
      process.kill(child.pid!, signal);
      const result = await finished;
      return { exitCode: result.exitCode, signal: result.signal };
    },
    fetch(path, init = {}) {
      const { token, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set('Authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('Content-Type', 'application/json');
      return fetch(origin + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    async login(password) {
      const response = await server.fetch('/api/admin/auth', { method: 'POST', json: { password } });
      if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
  };
  return server;
}
