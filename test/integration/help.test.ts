import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

/** The modules in dist/commands that are not commands: the base classes (command.js, base.js). */
const NOT_COMMANDS = ['base.js', 'command.js'];

/** Every command the build ships, found from dist/commands (so a new command cannot skip this). */
function commandIds(): string[] {
  const root = path.join(REPO_ROOT, 'dist', 'commands');
  const ids: string[] = [];
  const walk = (dir: string, prefix: string[]) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name), [...prefix, entry.name]);
      else if (entry.name.endsWith('.js') && !NOT_COMMANDS.includes(entry.name)) ids.push([...prefix, entry.name.replace(/\.js$/, '')].join(' '));
    }
  };
  walk(root, []);
  return ids.sort();
}

describe('--help', () => {
  const ids = commandIds();

  it('finds the commands of the contract', () => {
    expect(ids).toEqual(expect.arrayContaining(['branch create', 'branch delete', 'branch list', 'branch show', 'branch url', 'stop']));
  });

  it('ships every command in the bundle, and a manifest naming exactly those', () => {
    // oclif finds the commands in COMMANDS of src/cli.ts (bundled into dist/ayb.cjs), and the build
    // writes the manifest from there (src/build/manifest.ts): a command file that is not listed in
    // COMMANDS would be missing from both, and from the CLI.
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    expect(Object.keys(manifest.commands).map((id) => id.replaceAll(':', ' ')).sort()).toEqual(ids);
  });

  // `ayb help --help` is the top-level help (oclif reads --help before any command runs); `ayb help` is checked
  // in first-hour.test.ts.
  it.each(ids.filter((id) => id !== 'help'))('ayb %s --help has a description and examples', async (id) => {
    const result = await runCli([...id.split(' '), '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^DESCRIPTION$/m);
    expect(result.stdout).toMatch(/^EXAMPLES$/m);
    expect(result.stdout).toMatch(/\$ ayb /);
  });

  it('lists every command in the top-level help, and no internal module', async () => {
    const result = await runCli(['--help']);
    expect(result.stdout).not.toMatch(/^\s+base\b/m);
    const branch = await runCli(['branch', '--help']);
    for (const id of ids.filter((i) => i.startsWith('branch '))) expect(branch.stdout).toContain(id);
  });

  it('treats an unknown command as a usage error, as one JSON document with --json', async () => {
    const plain = await runCli(['branch', 'nosuch']);
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toMatch(/^Error: "branch nosuch" is not an ayb command\nHint: branch commands: .*branch create/);
    const json = await runCli(['branch', 'nosuch', '--json']);
    expect(json.exitCode).toBe(2);
    expect(json.json()).toMatchObject({ error: { code: 'command_not_found', exit_code: 2 } });
  });
});
