import { describe, expect, it } from 'vitest';
import { isPointInTime, parsePointInTime, recoveryTargetTime } from '../../src/history/point-in-time.js';
import { backupFor, backupsToPrune, type BaseBackup, historyRanges, historyWindow } from '../../src/history/store.js';
import { AybError } from '../../src/core/errors.js';
import { archiveCommand, historyDirOfArchiveCommand } from '../../src/history/archive.js';

const NOW = new Date('2026-12-02T12:00:00.000Z');

function usage(text: string): AybError {
  try {
    parsePointInTime(text, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(AybError);
    return error as AybError;
  }
  throw new Error(`expected ${text} to be refused`);
}

describe('parsePointInTime', () => {
  it('reads a duration ago from now', () => {
    const at = parsePointInTime('main@-2h', NOW);
    expect(at.at.toISOString()).toBe('2026-12-02T10:00:00.000Z');
    expect(at.label).toBe('main@2026-12-02T10:00:00.000Z');
    expect(parsePointInTime('main@-1d12h', NOW).at.toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });

  it('says what is wrong with a duration ago once, naming what was typed', () => {
    expect(usage('main@-0s').message).toBe('main@-0s: the duration before now "0s" is zero');
  });

  it('reads ISO 8601 with a zone, keeping microseconds for PostgreSQL', () => {
    expect(parsePointInTime('main@2026-11-30T14:00Z', NOW)).toMatchObject({ time: '2026-11-30T14:00Z', label: 'main@2026-11-30T14:00Z' });
    expect(parsePointInTime('main@2026-11-30T14:00Z', NOW).at.toISOString()).toBe('2026-11-30T14:00:00.000Z');
    const micro = parsePointInTime('main@2026-11-30T14:00:05.123456Z', NOW);
    expect(micro.at.toISOString()).toBe('2026-11-30T14:00:05.123Z');
    expect(recoveryTargetTime(micro)).toBe('2026-11-30 14:00:05.123456+00:00');
    const offset = parsePointInTime('main@2026-11-30 15:30:00+0130', NOW);
    expect(offset.at.toISOString()).toBe('2026-11-30T14:00:00.000Z');
    expect(offset.time).toBe('2026-11-30T15:30:00+01:30');
    expect(parsePointInTime('main@2026-11-30T09:00-05', NOW).at.toISOString()).toBe('2026-11-30T14:00:00.000Z');
  });

  it('refuses what is not a moment of main, each with a usage error', () => {
    expect(usage('feature@-2h').message).toMatch(/only main has history/);
    expect(usage('main@2026-11-30T14:00').message).toMatch(/zone/);
    expect(usage('main@yesterday').exitCode).toBe(2);
    expect(usage('main@2026-02-30T14:00Z').message).toMatch(/not a valid time/);
    expect(usage('main@-2').code).toBe('invalid_duration');
  });

  it('tells moments from branch names and URLs', () => {
    expect(isPointInTime('main@-2h')).toBe(true);
    expect(isPointInTime('main@2026-11-30T14:00Z')).toBe(true);
    expect(isPointInTime('main')).toBe(false);
    expect(isPointInTime('feature-x')).toBe(false);
    expect(isPointInTime('postgres://user@host/db')).toBe(false);
    expect(isPointInTime('host=db user=me@corp')).toBe(false);
    expect(isPointInTime(undefined)).toBe(false);
  });
});

const backup = (finished: string): BaseBackup => ({
  name: finished,
  path: `/h/base/${finished}`,
  startedAt: new Date(new Date(finished).getTime() - 60_000),
  finishedAt: new Date(finished),
  startWal: '000000010000000000000001',
});

describe('base backups and the window', () => {
  const backups = ['2026-11-20T00:00:00Z', '2026-11-24T00:00:00Z', '2026-11-26T00:00:00Z', '2026-12-01T00:00:00Z'].map(backup);

  it('restores from the newest backup that ended before the moment', () => {
    expect(backupFor(backups, new Date('2026-11-25T00:00:00Z'))?.name).toBe('2026-11-24T00:00:00Z');
    expect(backupFor(backups, new Date('2026-12-01T00:00:00Z'))?.name).toBe('2026-12-01T00:00:00Z');
    expect(backupFor(backups, new Date('2026-11-19T00:00:00Z'))).toBeUndefined();
  });

  it('spans from the end of the oldest backup until now', () => {
    expect(historyWindow(backups, NOW)).toEqual({ from: new Date('2026-11-20T00:00:00Z'), to: NOW });
    expect(historyWindow([], NOW)).toBeUndefined();
  });

  it('with a break of the WAL (dir changed, history off): ranges end at it, a moment after it needs a later backup', () => {
    const breaks = [{ at: new Date('2026-11-25T00:00:00Z'), why: '[history] dir changed to /x' }];
    const { ranges, gaps } = historyRanges(backups, breaks, NOW);
    expect(ranges).toEqual([
      { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-25T00:00:00Z') },
      { from: new Date('2026-11-26T00:00:00Z'), to: NOW },
    ]);
    expect(gaps).toEqual([{ from: new Date('2026-11-25T00:00:00Z'), to: new Date('2026-11-26T00:00:00Z'), why: '[history] dir changed to /x' }]);
    // Up to the break (edge included) from the backup before it; in the gap from none.
    expect(backupFor(backups, new Date('2026-11-25T00:00:00Z'), breaks)?.name).toBe('2026-11-24T00:00:00Z');
    expect(backupFor(backups, new Date('2026-11-25T12:00:00Z'), breaks)).toBeUndefined();
    expect(backupFor(backups, new Date('2026-11-26T00:00:00Z'), breaks)?.name).toBe('2026-11-26T00:00:00Z');
    // No breaks: one range from the oldest backup until now.
    expect(historyRanges(backups, [], NOW)).toEqual({ ranges: [{ from: new Date('2026-11-20T00:00:00Z'), to: NOW }], gaps: [] });
  });

  it('prunes backups before the window except the one the window starts from', () => {
    const week = 7 * 24 * 3600_000; // window starts 2026-11-25T12:00Z
    expect(backupsToPrune(backups, week, NOW).map((b) => b.name)).toEqual(['2026-11-20T00:00:00Z']);
    expect(backupsToPrune(backups, 30 * 24 * 3600_000, NOW)).toEqual([]);
    expect(backupsToPrune(backups, 3600_000, NOW).map((b) => b.name)).toEqual(['2026-11-20T00:00:00Z', '2026-11-24T00:00:00Z', '2026-11-26T00:00:00Z']);
  });
});

describe('historyDirOfArchiveCommand', () => {
  it("reads the history folder back from ayb's own archive_command, and nothing from any other", () => {
    const settings = { dir: '/srv/ayb/history', keepMs: 0, everyMs: 0, keep: '7d', everyText: '1d', cluster: { dataDir: '/srv/ayb/data', port: 5432 } };
    expect(historyDirOfArchiveCommand(archiveCommand(settings))).toBe('/srv/ayb/history');
    // An earlier version's (non-atomic) command is still recognised, to be replaced or turned off.
    expect(historyDirOfArchiveCommand("test ! -f '/srv/ayb/history/wal/%f' && cp %p '/srv/ayb/history/wal/%f'")).toBe('/srv/ayb/history');
    expect(archiveCommand(settings)).toContain('.partial');
    expect(historyDirOfArchiveCommand("test ! -f '/a/wal/%f' && cp %p '/b/wal/%f'")).toBeUndefined();
    expect(historyDirOfArchiveCommand('pgbackrest --stanza=main archive-push %p')).toBeUndefined();
    expect(historyDirOfArchiveCommand('')).toBeUndefined();
  });
});
