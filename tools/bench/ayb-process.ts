import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** What the agent and scale benches share: ayb run as a process, its admin API, and timing helpers. */

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist-tools/tools/bench → the repository. */
export const AYB_BIN = path.join(path.resolve(here, '../../..'), 'bin', 'run.js');

export interface AdminApi {
  call(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** The 95th percentile (nearest rank); NaN for no values. */
export function p95(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
}

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** `fn(0)` … `fn(count - 1)`, `workers` at a time. */
export async function inWorkers(count: number, workers: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < count) await fn(next++);
  }));
}

export function loadText(load: readonly number[]): string {
  return load.map((l) => l.toFixed(2)).join(', ');
}

/** A running `ayb start` (port chosen by the system), logged in to its admin API. */
export async function startAdminApi(env: Record<string, string | undefined>, extra: readonly string[] = []): Promise<AdminApi> {
  const password = `bench-${process.pid}-${Date.now()}`;
  const child = execa('node', [AYB_BIN, 'start', '--port', '0', ...extra], { env: { ...env, AYB_ADMIN_PASSWORD: password }, stdin: 'ignore', reject: false });
  let out = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ayb start did not say where it listens: ${out}`)), 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ayb listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('0.0.0.0', '127.0.0.1'));
      }
    });
    void child.then((result) => reject(new Error(`ayb start exited (${result.exitCode}): ${String(result.stderr).slice(0, 400)}`)));
  });
  const request = async (method: string, path: string, body: unknown, token?: string) => {
    const response = await fetch(origin + path, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 400)}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  const { token } = (await request('POST', '/api/admin/auth', { password })) as { token: string };
  return {
    call: (method, path, body) => request(method, path, body, token),
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}
