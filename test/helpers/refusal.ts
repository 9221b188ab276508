import { readdirSync, readFileSync } from 'node:fs';
import { spawnCli } from './cli.js';
import type { TestCluster } from './cluster.js';
import { holdDatabaseGate, waitUntil, whileRunning } from './gate.js';

/** Whether `database` accepts connections (pg_database.datallowconn). */
export async function allowsConnections(cluster: TestCluster, database: string): Promise<boolean> {
  const { rows } = await cluster.query<{ datallowconn: boolean }>('SELECT datallowconn FROM pg_database WHERE datname = $1', [database], 'postgres');
  return rows[0]!.datallowconn;
}

/** Backends whose statement, starting with `prefix`, waits for a lock. */
export async function waitingOnLock(cluster: TestCluster, prefix: string): Promise<number[]> {
  const { rows } = await cluster.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 || '%'", [prefix], 'postgres',
  );
  return rows.map((r) => r.pid);
}

/**
 * Running connection guards (src/postgres/connection-guard.ts) for this cluster, found in /proc by
 * their script and the port in their environment (other test files run guards of their own).
 */
export function connectionGuards(cluster: TestCluster): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('AYB_GUARD_WAIT_SQL')) return false;
      return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`"port":${cluster.port},`);
    } catch {
      return false;
    }
  }).map(Number);
}

/**
 * Kills ayb outright (SIGKILL) while it keeps `refused` refusing connections and one of its
 * statements waits at a gate: an open transaction elsewhere holding a lock on `gated` that the
 * statement (starting with `prefix`) needs. Then opens the gate, so the statement ends on the
 * server without its client, and returns once the guard has allowed connections to `healed`
 * (the name the database has by then) and exited.
 */
export async function killWhileRefusing(
  cluster: TestCluster,
  args: readonly string[],
  env: Record<string, string>,
  gate: {
    gated: string;
    prefix: string;
    refused: string;
    healed: string;
    /** The gated statement runs on the session that refused connections: the guard waits for it. */
    onRefusingSession: boolean;
  },
): Promise<void> {
  const blocker = await holdDatabaseGate(cluster, gate.gated);
  try {
    const killed = spawnCli(args, { env });
    await waitUntil(`"${gate.prefix}" to wait at the gate`, async () => (await waitingOnLock(cluster, gate.prefix)).length === 1, {
      unless: whileRunning(killed, 'ayb'),
    });
    if (await allowsConnections(cluster, gate.refused)) throw new Error(`${gate.refused} should refuse connections while ayb waits`);
    killed.kill('SIGKILL');
    const result = await killed;
    if (result.signal !== 'SIGKILL') throw new Error(`ayb ended by ${result.signal ?? `exit ${result.exitCode}`}, not by the SIGKILL`);
    // The statement still waits, so that session is still there: the guard must not act yet.
    if (gate.onRefusingSession && (await allowsConnections(cluster, gate.refused))) {
      throw new Error(`the guard allowed connections to ${gate.refused} before ayb's session ended`);
    }
  } finally {
    await blocker.release();
  }
  await waitUntil(`the guard to allow connections to ${gate.healed} again`, () => allowsConnections(cluster, gate.healed));
  await waitUntil('the connection guard to exit', async () => connectionGuards(cluster).length === 0);
}
