import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';
import { jsonError, textError } from '../helpers/cli-errors.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * What a new user meets in the first hour (issue 14): messages, hints and exit codes of mistakes,
 * help and version, the records' wording, and what only a terminal shows (run under script(1),
 * which gives the command a pseudo-terminal).
 */
function inTerminal(args: readonly string[], env: Record<string, string>, input = ''): { exitCode: number | null; output: string } {
  const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
  const result = spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'], {
    input,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', NO_COLOR: '1', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { exitCode: result.status, output: result.stdout };
}

describe('first hour', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-first-hour-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('help, version, -v, -h and completion', async () => {
    const help = await runCli(['help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^TOPICS$/m);
    const topic = await runCli(['help', 'branch', 'create']);
    expect(topic.exitCode).toBe(0);
    expect(topic.stdout).toMatch(/^USAGE\n {2}\$ ayb branch create NAME/m);
    expect((await runCli(['branch', 'create', '-h'])).stdout).toBe(topic.stdout);
    textError(await runCli(['help', 'brnch', 'create']), 2, /^Hint: did you mean: ayb branch create\?$/m);

    const version = await runCli(['version']);
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toMatch(/^ayb\/\d+\.\d+\.\d+ \S+ node-v\d+/);
    for (const flag of ['-v', '--version']) expect((await runCli([flag])).stdout).toBe(version.stdout);
    expect((await runCli(['version', '--json'])).json()).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), node: process.versions.node });

    const completion = await runCli(['completion', 'bash']);
    expect(completion.exitCode).toBe(0);
    expect(completion.stdout).toContain('complete -o default -F _ayb_complete ayb');
    // bash itself judges the script: it parses, and completes "ayb branch cr" to "create".
    const probe = spawnSync('bash', ['-c', `${completion.stdout}\nCOMP_WORDS=(ayb branch cr); COMP_CWORD=2; _ayb_complete; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    expect(probe.stderr).toBe('');
    expect(probe.stdout.trim()).toBe('create');
    const flags = spawnSync('bash', ['-c', `${completion.stdout}\nCOMP_WORDS=(ayb branch create x --str); COMP_CWORD=4; _ayb_complete; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    expect(flags.stdout.trim()).toBe('--strategy');
  });

  it('mistyped commands, flags, branch names and config keys get a "did you mean"', async () => {
    textError(await runCli(['brnch', 'list'], { env }), 2, /^Hint: did you mean: ayb branch list\?$/m);
    const flag = jsonError(await runCli(['branch', 'list', '--jsn', '--json'], { env }), 2, 'unknown_flag');
    expect(flag.message).toBe('unknown flag: --jsn');
    expect(flag.hint).toMatch(/^did you mean --json\?/);

    expect((await runCli(['branch', 'create', 'typo-target', '--json'], { env })).exitCode).toBe(0);
    const name = jsonError(await runCli(['branch', 'show', 'typo-targte', '--json'], { env }), 3, 'branch_not_found');
    expect(name.hint).toMatch(/^did you mean typo-target\?/);

    const config = path.join(dir, 'typo.toml');
    await writeFile(config, '[server]\nprot = 9000\n');
    const key = jsonError(await runCli(['branch', 'list', '--config', config, '--json'], { env }), 2, 'invalid_config');
    expect(key.message).toContain('server.prot: did you mean server.port?');
  });

  it('a TOML syntax error names its line and column', async () => {
    const config = path.join(dir, 'broken.toml');
    await writeFile(config, '[server]\nport = = 80\n');
    const error = jsonError(await runCli(['branch', 'list', '--config', config, '--json'], { env }), 2, 'invalid_config');
    expect(error.message).toMatch(/broken\.toml:2:\d+: /);
    expect(error).toMatchObject({ line: 2, column: expect.any(Number) });
    textError(await runCli(['branch', 'list', '--config', config], { env }), 2, /^Hint: fix the syntax on line 2, column \d+/m);
  });

  it('invalid names get a valid suggestion, or none', async () => {
    expect(jsonError(await runCli(['branch', 'create', 'Bad Name', '--json'], { env }), 2, 'invalid_name').hint).toMatch(/, e\.g\. bad-name$/);
    expect(jsonError(await runCli(['branch', 'create', 'Feat/X', '--json'], { env }), 2, 'invalid_name').hint).toMatch(/, e\.g\. feat-x$/);
    expect(jsonError(await runCli(['branch', 'create', '--json', '--', '---'], { env }), 2, 'invalid_name').hint).toMatch(/\(e\.g\. feature-auth\)$/);
  });

  it('records say main for main, in create, show and list alike, and the quick start can be re-run', async () => {
    const first = await runCli(['branch', 'create', 'quick', '--if-not-exists'], { env });
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(/^Creating branch "quick" from main /m);
    expect(first.stdout).toMatch(/^Parent +main$/m);
    expect(first.stdout).not.toMatch(/^Source/m);
    // Only a terminal gets the psql line.
    expect(first.stderr).not.toContain('psql');
    const again = await runCli(['branch', 'create', 'quick', '--if-not-exists'], { env });
    expect(again.exitCode).toBe(0);
    expect((await runCli(['branch', 'show', 'quick'], { env })).stdout).toMatch(/^Parent +main$/m);
    expect((await runCli(['branch', 'list'], { env })).stdout).toMatch(/^quick +ready +main +- +template +(just now|\d+s ago) +never$/m);
  });

  it('colour only on request or a terminal, never with NO_COLOR', async () => {
    const plain = await runCli(['branch', 'list'], { env: { ...env, NO_COLOR: undefined } });
    expect(plain.stdout).not.toContain('\x1b[');
    const forced = await runCli(['branch', 'list'], { env: { ...env, NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\x1b[32mready');
    const refused = await runCli(['branch', 'list'], { env: { ...env, NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(refused.stdout).not.toContain('\x1b[');
  });

  it('on a terminal: create ends with how to connect; declining a delete exits 1, and nothing is deleted', async () => {
    const create = inTerminal(['branch', 'create', 'tty-made'], env);
    expect(create.exitCode).toBe(0);
    // ayb itself when it is on PATH, else the script that ran (a clone not linked: npm link needs root).
    const self = process.env.PATH!.split(':').some((dir) => existsSync(path.join(dir, 'ayb'))) ? 'ayb' : './bin/run.js';
    expect(create.output).toContain(`Connect with: psql "$(${self} branch url tty-made)"`);

    const declined = inTerminal(['branch', 'delete', 'tty-made'], env, 'n\n');
    expect(declined.output).toContain('Delete branch "tty-made"');
    // Declining is not an error: said plainly, no red Error line (issue 27).
    expect(declined.output).toContain('Cancelled, nothing was changed.');
    expect(declined.output).not.toContain('Error:');
    expect(declined.exitCode).toBe(1);
    const still = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_tty_made'", [], 'postgres');
    expect(still.rowCount).toBe(1);

    const accepted = inTerminal(['branch', 'delete', 'tty-made'], env, 'y\n');
    expect(accepted.exitCode).toBe(0);
    const gone = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_tty_made'", [], 'postgres');
    expect(gone.rowCount).toBe(0);
  });
});
