import type { Client } from '../postgres/client.js';

/** What a session's server and role are: constant for the session, so asked once per connection. */
export interface ServerFacts {
  readonly major: number;
  /** `server_version`, its first word (`16.4`). */
  readonly version: string;
  /** Whether the session's role is a superuser. */
  readonly superuser: boolean;
}

const known = new WeakMap<Client, Promise<ServerFacts>>();

/**
 * The server's version and whether the session's role is a superuser, in one round trip, asked on
 * a connection's first need and remembered for it (a create asked these three times, each a round trip).
 */
export function serverFacts(client: Client): Promise<ServerFacts> {
  let facts = known.get(client);
  if (!facts) {
    facts = client
      .query<{ num: string; version: string; superuser: boolean | null }>(
        `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
      )
      .then(({ rows }) => ({ major: Math.floor(Number(rows[0]!.num) / 10000), version: rows[0]!.version.split(' ')[0]!, superuser: rows[0]!.superuser === true }));
    // A failed query (a lost connection) is not remembered.
    facts.catch(() => known.delete(client));
    known.set(client, facts);
  }
  return facts;
}
