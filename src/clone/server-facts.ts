import type { Client } from '../postgres/client.js';
import { underlying } from '../postgres/maintenance-pool.js';

/** What a session's server and role are: constant for the session, so asked once per connection. */
export interface ServerFacts {
  readonly major: number;
  /** `server_version`, its first word (`16.4`). */
  readonly version: string;
  /** Whether the session's role is a superuser. */
  readonly superuser: boolean;
  /** The session's role (`current_user`): the owner of every database it creates. */
  readonly user: string;
}

const known = new WeakMap<Client, Promise<ServerFacts>>();

/** The query of serverFacts, for a caller that sends it with others in one round trip (primeServerFacts). */
export const SERVER_FACTS_SQL = `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, current_user::text AS "user"`;

export type ServerFactsRow = { num: string; version: string; superuser: boolean | null; user: string };

function factsOf(row: ServerFactsRow): ServerFacts {
  return { major: Math.floor(Number(row.num) / 10000), version: row.version.split(' ')[0]!, superuser: row.superuser === true, user: row.user };
}

/**
 * The server's version and whether the session's role is a superuser, in one round trip, asked on
 * a connection's first need and remembered for it (a create asked these three times, each a round
 * trip). A connection kept by a long-lived process (the maintenance pool) keeps its facts with it.
 */
export function serverFacts(leased: Client): Promise<ServerFacts> {
  const client = underlying(leased);
  let facts = known.get(client);
  if (!facts) {
    facts = client.query<ServerFactsRow>(SERVER_FACTS_SQL).then(({ rows }) => factsOf(rows[0]!));
    // A failed query (a lost connection) is not remembered.
    facts.catch(() => known.delete(client));
    known.set(client, facts);
  }
  return facts;
}

/** Whether the facts of this connection are known already (so a batch need not ask them again). */
export function hasServerFacts(client: Client): boolean {
  return known.has(underlying(client));
}

/** The facts read by a caller's batch (SERVER_FACTS_SQL among its statements), remembered for the connection. */
export function primeServerFacts(client: Client, row: ServerFactsRow): void {
  known.set(underlying(client), Promise.resolve(factsOf(row)));
}
