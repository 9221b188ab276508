import { type Client, connect } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';

export interface DumpProgress {
  /** Bytes the branch database takes on disk so far (tables and indexes). */
  readonly bytes: number;
  /** The table whose rows are streaming in, or whose index is being built, when known. */
  readonly table?: string;
  /** `copy` while rows stream in, `index` while indexes are built. */
  readonly phase?: 'copy' | 'index';
}

/**
 * Watches a restore from the server's side, so that the bytes never have to pass through ayb to be
 * counted: every `intervalMs` it reads the branch database's size (which grows towards the source's,
 * indexes included) and what psql's session is doing, from pg_stat_progress_copy (PostgreSQL 14+)
 * and pg_stat_progress_create_index (12+). It runs on its own connection to the branch database, so
 * that the names resolve there. stop() reports once more (the final size) and closes it.
 */
export function watchRestore(target: ConnInfo, report: (progress: DumpProgress) => void, intervalMs = 500): { stop(): Promise<void> } {
  let client: Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let sampling: Promise<void> = Promise.resolve();

  const sample = async () => {
    if (!client) return;
    const { rows } = await client.query<{ bytes: string; copying: string | null; indexing: string | null }>(
      `SELECT pg_database_size(current_database())::text AS bytes,
              (SELECT c.relid::regclass::text FROM pg_stat_progress_copy c WHERE c.datid = d.oid LIMIT 1) AS copying,
              (SELECT i.relid::regclass::text FROM pg_stat_progress_create_index i WHERE i.datid = d.oid LIMIT 1) AS indexing
         FROM pg_database d WHERE d.datname = current_database()`,
    );
    const row = rows[0];
    if (!row || stopped) return;
    if (row.indexing) report({ bytes: Number(row.bytes), table: row.indexing, phase: 'index' });
    else report({ bytes: Number(row.bytes), table: row.copying ?? undefined, phase: 'copy' });
  };
  const tick = () => {
    sampling = sample().catch(() => undefined).finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  const started = connect({ ...target, params: { ...target.params, application_name: 'ayb-progress' } })
    .then((c) => {
      client = c;
      if (stopped) return;
      tick();
    })
    .catch(() => undefined); // No progress is no reason to fail a copy.

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await started;
      await sampling;
      if (!client) return;
      try {
        const { rows } = await client.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
        report({ bytes: Number(rows[0]!.bytes) });
      } catch {
        // The branch may be gone already (a failed copy is dropped).
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
