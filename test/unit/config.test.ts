import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/resolve.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { AybError } from '../../src/core/errors.js';
import { historySettings } from '../../src/history/store.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-config-'));
  const file = path.join(dir, 'ayb.toml');
  await writeFile(file, text);
  return file;
}

async function failure(promise: Promise<unknown>): Promise<AybError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AybError);
    return error as AybError;
  }
  throw new Error('expected a failure');
}

describe('config', () => {
  it('has defaults for every section when no file exists', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-config-'));
    const { config, file } = await loadConfig({ cwd: dir });
    expect(file).toBeUndefined();
    expect(config.managed_pg).toEqual({ data_dir: '~/.ayb/data', port: 15432 });
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.branching.default_strategy).toBe('auto');
  });

  it('keeps no history unless asked, and places it beside the managed data directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-config-'));
    const loaded = await loadConfig({ cwd: dir });
    expect(loaded.config.history).toEqual({ enabled: false, keep: '7d', base_backup_every: '1d' });
    const file = await configFile('[managed_pg]\ndata_dir = "pg/data"\n[history]\nenabled = true\nkeep = "2d"\n');
    const settings = historySettings(await loadConfig({ configPath: file }));
    expect(settings.dir).toBe(path.join(path.dirname(file), 'pg', 'history'));
    expect(settings.keepMs).toBe(2 * 24 * 3600_000);
    const bad = await failure(loadConfig({ configPath: await configFile('[history]\nkeep = "a week"\nbase_backup_every = 3\n') }));
    expect(bad.message).toMatch(/history\.keep/);
    expect(bad.message).toMatch(/history\.base_backup_every/);
  });

  it('accepts ayb.toml.example as it ships', async () => {
    const example = await readFile(path.join(import.meta.dirname, '../../ayb.toml.example'), 'utf8');
    const { config } = await loadConfig({ configPath: await configFile(example) });
    expect(config).toEqual(ConfigSchema.parse({}));
  });

  it('reports a missing named file with exit 3', async () => {
    const error = await failure(loadConfig({ configPath: '/nonexistent/ayb.toml' }));
    expect(error.exitCode).toBe(3);
  });

  it('reports every invalid key at once, with exit 2', async () => {
    const file = await configFile('[managed_pg]\nport = "x"\ncolour = 1\n[server]\nport = 70000\n[nope]\n');
    const error = await failure(loadConfig({ configPath: file }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/managed_pg\.port/);
    expect(error.message).toMatch(/managed_pg\.colour/);
    expect(error.message).toMatch(/server\.port/);
    expect(error.message).toMatch(/nope/);
  });

  it('reports TOML syntax errors with exit 2', async () => {
    const error = await failure(loadConfig({ configPath: await configFile('[database\nurl = 1') }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/invalid TOML/);
  });
});

describe('config: masking', () => {
  it('accepts rules with their arguments, and resolves secret_file against the config file', async () => {
    const file = await configFile(`[masking]\nrequired = true\nsecret_file = "keys/masking.key"\n[[masking.rules]]\ntable = "customer"\ncolumn = "email"\nfunction = "email"\nargs = { domain = "masked.test" }\n[[masking.rules]]\ntable = "app.events"\ncolumn = "payload"\nfunction = "json_keys"\nargs = { keys = ["ip"], function = "redact", keep_last = 2 }\n`);
    const { config } = await loadConfig({ configPath: file });
    expect(config.masking.required).toBe(true);
    expect(config.masking.secret_file).toBe(path.join(path.dirname(file), 'keys/masking.key'));
    expect(config.masking.rules.map((r) => r.function)).toEqual(['email', 'json_keys']);
  });

  it('names every bad rule at once', async () => {
    const file = await configFile([
      '[[masking.rules]]', 'table = "customer"', 'column = "email"', 'function = "emial"',
      '[[masking.rules]]', 'table = "customer"', 'column = "born"', 'function = "date_shift"', 'args = { dayz = 3 }',
      '[[masking.rules]]', 'table = "customer"', 'column = "note"', 'function = "constant"',
      '[[masking.rules]]', 'table = "a.b.c"', 'column = "x"', 'function = "null"',
    ].join('\n'));
    const error = await failure(loadConfig({ configPath: file }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/masking\.rules\.0\.function \(rule customer\.email\)/);
    expect(error.message).toMatch(/masking\.rules\.1\.args \(rule customer\.born\): date_shift: .*dayz/);
    expect(error.message).toMatch(/masking\.rules\.2\.args\.value \(rule customer\.note\): constant: needs value/);
    expect(error.message).toMatch(/masking\.rules\.3\.table \(rule a\.b\.c\.x\)/);
    const twice = await failure(loadConfig({ configPath: await configFile('[[masking.rules]]\ntable = "customer"\ncolumn = "email"\nfunction = "email"\n[[masking.rules]]\ntable = "public.customer"\ncolumn = "email"\nfunction = "hash"\n') }));
    expect(twice.message).toMatch(/masking\.rules\.1 \(rule public\.customer\.email\): a second rule for public\.customer\.email/);
  });

  it('refuses required = true without rules, and a secret in the config itself', async () => {
    const required = await failure(loadConfig({ configPath: await configFile('[masking]\nrequired = true\n') }));
    expect(required.message).toMatch(/masking\.required: required = true needs at least one/);
    const secret = await failure(loadConfig({ configPath: await configFile('[masking]\nsecret = "hunter2-hunter2-hunter2"\n') }));
    expect(secret.message).toMatch(/masking.*secret/);
    expect(secret.message).not.toMatch(/hunter2/);
  });
});
