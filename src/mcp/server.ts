/**
 * `ayb mcp`: branch tools for coding agents over the Model Context Protocol (stdio), with the
 * official SDK. Each tool is a CLI command by the same name (`branch create` is `branch_create`),
 * takes its arguments and flags (snake_case), and answers with the JSON document that command prints
 * with `--json`; a failure is that command's `--json` error document (`{"error": {code, message,
 * exit_code, hint}}`) with `isError` set. The calls go through the library (lib/index.ts): the same
 * domain code, one session per call, no process per call.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { type Ayb, errorJson } from '../lib/index.js';
import { UsageError } from '../core/errors.js';

export interface McpOptions {
  readonly ayb: Ayb;
  readonly version: string;
}

const name = z.string().describe('branch name: 1-52 of a-z 0-9 - _, starting and ending with a letter or digit');
const expiry = {
  ttl: z.string().optional().describe('expire this long from now: 30m, 12h, 7d'),
  expires_at: z.string().optional().describe('expire at this ISO 8601 time'),
  never_expires: z.boolean().optional().describe('never expire, whatever [branching] default_ttl says'),
};
const strategy = z.enum(['auto', 'template', 'dump']).optional().describe('how to copy (default auto: a file copy when the source is idle, else a dump)');

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

/** The answer: the `--json` document, or the `--json` error document. */
async function answer(fn: () => Promise<unknown>): Promise<ToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await fn(), null, 2) }] };
  } catch (error) {
    return { content: [{ type: 'text', text: JSON.stringify(errorJson(error), null, 2) }], isError: true };
  }
}

/** The MCP server with ayb's tools, not yet connected. */
export function createMcpServer({ ayb, version }: McpOptions): McpServer {
  const server = new McpServer({ name: 'ayb', version }, {
    instructions: [
      'ayb gives a PostgreSQL database git-like branches: full, isolated copies made in template time.',
      'Typical loop: branch_create (from main, a branch, a snapshot or main@<time>), branch_url to connect,',
      'change and test, branch_diff to see what changed, branch_merge with dry_run first, branch_delete when done.',
      'Answers are the JSON documents of the matching `ayb … --json` CLI command.',
    ].join(' '),
  });

  server.registerTool('branch_list', {
    description: 'List branches, oldest first (ayb branch list --json). No sizes unless sizes is true (slow with many branches).',
    inputSchema: { sizes: z.boolean().optional().describe("add each branch's size_bytes (ayb branch list --sizes): a scan of every database's files") },
    annotations: { readOnlyHint: true },
  }, ({ sizes }) => answer(() => ayb.list({ sizes })));

  server.registerTool('snapshot_list', {
    description: 'List snapshots, oldest first (ayb snapshot list --json). No sizes unless sizes is true.',
    inputSchema: { sizes: z.boolean().optional().describe("add each snapshot's size_bytes (ayb snapshot list --sizes)") },
    annotations: { readOnlyHint: true },
  }, ({ sizes }) => answer(() => ayb.list({ kind: 'snapshot', sizes })));

  server.registerTool('branch_create', {
    description: 'Create a branch: a full, isolated copy of main, a branch, a snapshot, or main at a past moment (ayb branch create --json).',
    inputSchema: {
      name,
      from: z.string().optional().describe('source: main (default), a branch, a snapshot, or main@<time> (main@-2h, main@2026-11-30T14:00Z; needs [history])'),
      strategy,
      masked: z.boolean().optional().describe('apply the masking rules before the copy is ready'),
      if_not_exists: z.boolean().optional().describe('succeed with the existing branch if it is already there and ready'),
      keep_base: z.boolean().optional().describe('keep the starting state as snapshot <name>-base, the base of a later branch_merge'),
      ...expiry,
    },
  }, (a) => answer(() => ayb.create(a.name, {
    from: a.from, strategy: a.strategy, masked: a.masked, ifNotExists: a.if_not_exists, keepBase: a.keep_base,
    ttl: a.ttl, expiresAt: a.expires_at, neverExpires: a.never_expires,
  })));

  server.registerTool('branch_url', {
    description: 'The connection URL of a ready branch (or of main), password included (ayb branch url --json).',
    inputSchema: { name: z.string().describe('branch name, or main') },
    annotations: { readOnlyHint: true },
  }, (a) => answer(() => ayb.url(a.name)));

  server.registerTool('branch_diff', {
    description: 'The schema changes (and with data, the row changes per table) that turn <from> into <to> (ayb branch diff --json).',
    inputSchema: {
      from: z.string().describe('main, a branch or a snapshot'),
      to: z.string().describe('main, a branch or a snapshot'),
      data: z.boolean().optional().describe('compare rows instead of the schema (with schema: both, as {schema, data})'),
      schema: z.boolean().optional().describe('with data: the schema changes too'),
      table: z.array(z.string()).optional().describe('with data: only these tables (schema.table)'),
      limit: z.number().int().min(0).optional().describe('with data: example keys per kind and table (default 20)'),
    },
    annotations: { readOnlyHint: true },
  }, (a) => answer(() => ayb.diff(a.from, a.to, { data: a.data, schema: a.schema, tables: a.table, limit: a.limit })));

  server.registerTool('branch_merge', {
    description: 'Bring a branch\'s schema and row changes into its parent (a three-way merge; ayb branch merge --json). A dry run unless dry_run is false: look at the plan (sql, conflicts) first, then merge with dry_run false.',
    inputSchema: {
      branch: name,
      into: z.string().optional().describe('target: main or a branch (default: what the base snapshot was taken of)'),
      base: z.string().optional().describe('the snapshot the branch started from (default: the one it was made from)'),
      strategy: z.enum(['fail', 'ours', 'theirs']).optional().describe('rows changed on both sides: fail (default), ours, theirs'),
      dry_run: z.boolean().optional().describe('plan only, change nothing (default true)'),
    },
  }, (a) => answer(() => ayb.merge(a.branch, { into: a.into, base: a.base, strategy: a.strategy, dryRun: a.dry_run ?? true })));

  server.registerTool('branch_reset', {
    description: 'Bring a branch back to its source\'s current state, or to a snapshot; everything written to it is discarded (ayb branch reset --json).',
    inputSchema: { name, to: z.string().optional().describe('reset to this snapshot instead of the branch\'s source'), strategy },
    annotations: { destructiveHint: true },
  }, (a) => answer(() => ayb.reset(a.name, { to: a.to, strategy: a.strategy })));

  server.registerTool('snapshot_create', {
    description: 'Freeze a copy of main, a branch, or main at a past moment, to branch from and reset to (ayb snapshot create --json).',
    inputSchema: {
      name,
      of: z.string().optional().describe('what to freeze: main (default), a branch, another snapshot, or main@<time>'),
      masked: z.boolean().optional(),
      if_not_exists: z.boolean().optional(),
      ...expiry,
    },
  }, (a) => answer(() => ayb.snapshot(a.name, { of: a.of, masked: a.masked, ifNotExists: a.if_not_exists, ttl: a.ttl, expiresAt: a.expires_at, neverExpires: a.never_expires })));

  const deleteInput = {
    name,
    yes: z.boolean().optional().describe('required, as the CLI\'s --yes: the delete cannot be undone'),
    force: z.boolean().optional().describe('also remove a failed or orphaned one'),
    if_exists: z.boolean().optional().describe('succeed when it does not exist'),
    with_children: z.boolean().optional().describe('also delete the branches made from it'),
  };
  const confirmed = (kind: 'branch' | 'snapshot', a: { name: string; yes?: boolean }) => {
    if (a.yes) return;
    // The CLI's error without --yes where it cannot ask (no terminal, --json).
    throw new UsageError(`refusing to delete ${kind} "${a.name}" without confirmation`, {
      hint: `pass yes: true to delete (the CLI: ayb ${kind} delete ${a.name} --yes)`,
    }, 'confirmation_required');
  };
  server.registerTool('branch_delete', {
    description: 'Delete a branch and its database (ayb branch delete --yes --json).',
    inputSchema: deleteInput,
    annotations: { destructiveHint: true },
  }, (a) => answer(async () => {
    confirmed('branch', a);
    return ayb.delete(a.name, { force: a.force, ifExists: a.if_exists, withChildren: a.with_children });
  }));
  server.registerTool('snapshot_delete', {
    description: 'Delete a snapshot and its database (ayb snapshot delete --yes --json).',
    inputSchema: deleteInput,
    annotations: { destructiveHint: true },
  }, (a) => answer(async () => {
    confirmed('snapshot', a);
    return ayb.deleteSnapshot(a.name, { force: a.force, ifExists: a.if_exists, withChildren: a.with_children });
  }));

  return server;
}

/** Serves the tools on stdin/stdout until the client closes stdin. */
export async function serveMcp(options: McpOptions): Promise<void> {
  const server = createMcpServer(options);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
}
