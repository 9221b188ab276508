import { openAyb } from '../lib/index.js';
import { DatabaseCommand } from './base.js';

export default class Mcp extends DatabaseCommand {
  static override summary = 'Serve branch tools to coding agents over MCP (stdio)';
  static override description = `Runs a Model Context Protocol server on stdin/stdout for an agent (Claude Code, Cursor, VS Code, any MCP client) to branch the main database by itself. Tools, named after the CLI commands, with their arguments and flags in snake_case, answering with the JSON those commands print with --json:

  branch_list, snapshot_list, branch_create (from main, a branch, a snapshot or main@<time>), branch_url, branch_diff (schema, and rows with data: true), branch_merge (a dry run unless dry_run: false), branch_reset, snapshot_create, branch_delete, snapshot_delete (both need yes: true, as --yes).

A failure answers with the CLI's --json error document ({"error": {"code", "message", "exit_code", "hint"}}) marked as a tool error. The main database is found as for every command (--database-url, AYB_DATABASE_URL, ayb.toml, else the managed PostgreSQL). Log lines go to stderr; stdout carries only the protocol. The server runs until the client closes stdin.`;

  static override examples = [
    { description: 'Add it to Claude Code for this project', command: 'claude mcp add ayb -- npx ayb mcp' },
    { description: 'An MCP client config (.mcp.json, .cursor/mcp.json): the database from the environment', command: `echo '{"mcpServers": {"ayb": {"command": "npx", "args": ["ayb", "mcp"], "env": {"AYB_DATABASE_URL": "postgres://me@localhost/app"}}}}' > .mcp.json` },
    { description: 'Try it by hand with the MCP inspector', command: 'npx @modelcontextprotocol/inspector <%= config.bin %> mcp' },
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(Mcp);
    const loaded = await this.loadConfig(flags);
    const ayb = await openAyb({ databaseUrl: loaded.input.databaseUrl, config: loaded.input.configPath, log: (line) => this.writer.log(line) });
    // Loaded only here: the SDK stays off the path of every other command.
    const { serveMcp } = await import('../mcp/server.js');
    await serveMcp({ ayb, version: this.config.version });
  }
}
