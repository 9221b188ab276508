/**
 * The merge's phase trace (issue 25, item 7: where a large merge's seconds and memory go): with
 * `AYB_MERGE_TRACE` set, each phase's end is written to stderr with the seconds since the process
 * started, the phase's own seconds and the process's RSS. Off (one branch) otherwise.
 */
const mode = process.env.AYB_MERGE_TRACE;
const on = process.env.AYB_MERGE_TRACE !== undefined && process.env.AYB_MERGE_TRACE !== '';

/** Runs `fn`, tracing its time and the RSS after it under `label`. */
export async function traced<T>(label: string, fn: () => Promise<T>): Promise<T> {
  if (!on) return fn();
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const mb = (process.memoryUsage.rss() / 1048576).toFixed(0);
    process.stderr.write(`[merge-trace] t=${(performance.now() / 1000).toFixed(1)}s ${((performance.now() - started) / 1000).toFixed(2)}s rss=${mb}MB ${label}\n`);
  }
}

/**
 * With `AYB_MERGE_TRACE=explain`: the plan of a statement as it runs (EXPLAIN ANALYZE, in a savepoint
 * rolled back, so the statement then runs again for real), written to stderr. For measuring only.
 */
export async function explained(client: { query(sql: string): Promise<{ rows: Record<string, unknown>[] }> }, sql: string): Promise<void> {
  if (mode !== 'explain') return;
  await client.query('SAVEPOINT ayb_explain');
  try {
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`);
    process.stderr.write(`[merge-trace] plan:\n${rows.map((r) => String(Object.values(r)[0])).join('\n')}\n`);
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT ayb_explain');
  }
}
