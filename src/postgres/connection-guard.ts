import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { clientConfig } from './client.js';
import { type ConnInfo, withDatabase } from './conninfo.js';
import { WAIT_FOR_REFUSING_SESSIONS_SQL } from './maintenance.js';

/**
 * A watchdog for the seconds in which ayb keeps a database refusing connections (`--disconnect`):
 * if ayb dies before it allows them again (SIGKILL, the OOM killer, a closed terminal), the guard
 * does it, so main is not left refusing everyone.
 *
 * The guard is a small Node process in a session of its own (so neither Ctrl-C nor a kill of ayb's
 * process group reaches it). It reads its stdin, a pipe from ayb, to the end. ayb writes "done"
 * once it has allowed connections itself; an end without "done" means ayb is gone (the kernel
 * closes the pipe however it died), and the guard connects with ayb's credentials, which it gets in
 * its environment and never in argv. It first waits for ayb's sessions to end: a statement in
 * flight (the ALTER DATABASE that refuses connections, or the copy itself) runs to its end on the
 * server although its client is gone. ayb's session holds the `refusing` advisory lock shared for
 * the whole time (maintenance.ts); the guard takes it exclusively, which waits for exactly that.
 * Then it allows connections to each of the databases that still refuses them.
 */
export interface ConnectionGuard {
  /** ayb allowed connections again itself (`allowed`): the guard just exits. Otherwise it does it. */
  release(allowed: boolean): void;
}

const GUARD_SCRIPT = String.raw`
const { Client } = require(process.env.AYB_GUARD_PG);
const configs = JSON.parse(process.env.AYB_GUARD_CONFIGS);
const databases = JSON.parse(process.env.AYB_GUARD_DATABASES);
const waitSql = process.env.AYB_GUARD_WAIT_SQL;
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('error', () => undefined);
process.stdin.on('end', async () => {
  if (input.includes('done')) return;
  for (let attempt = 0; attempt < 5; attempt++) {
    for (const config of configs) {
      const client = new Client(config);
      try {
        await client.connect();
        for (const name of databases) {
          await client.query(waitSql, [name]);
          const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn', [name]);
          if (rowCount) await client.query('ALTER DATABASE "' + name.replace(/"/g, '""') + '" WITH ALLOW_CONNECTIONS true');
        }
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
});
`;

/** Starts a guard for `databases` on the main database's server, before they are made to refuse connections. */
export function startConnectionGuard(main: ConnInfo, databases: readonly string[]): ConnectionGuard {
  // The maintenance databases ayb itself connects to (see connectMaintenance).
  const configs = ['postgres', 'template1'].map((db) => ({ ...clientConfig(withDatabase(main, db)), application_name: 'ayb connection guard' }));
  const child = spawn(process.execPath, ['-e', GUARD_SCRIPT], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    cwd: '/',
    env: {
      PATH: process.env.PATH,
      AYB_GUARD_PG: createRequire(import.meta.url).resolve('pg'),
      AYB_GUARD_CONFIGS: JSON.stringify(configs),
      AYB_GUARD_DATABASES: JSON.stringify(databases),
      AYB_GUARD_WAIT_SQL: WAIT_FOR_REFUSING_SESSIONS_SQL,
    },
  });
  // Neither the guard nor its pipe keeps ayb running; a guard that failed to start just is not there.
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release(allowed) {
      child.stdin!.end(allowed ? 'done\n' : '');
    },
  };
}
