import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invocation } from '../../src/commands/command.js';
import { nameSourcesFor } from '../../src/commands/completion.js';
import { AybError } from '../../src/core/errors.js';
import { Writer } from '../../src/output/writer.js';

/** A stream that keeps what is written, and says it is a terminal. */
function terminal(): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = true;
  stream.text = () => text;
  return stream;
}

describe('a progress line still shown (issue 27)', () => {
  it('is cleared before the error, so "Error:" starts its own line', () => {
    const stderr = terminal();
    const writer = new Writer('table', terminal(), stderr);
    writer.progress('\r\x1b[KCopying 80 MB of ~381 MB');
    writer.error(new AybError('interrupted', 130, 'interrupted by SIGINT'));
    const lines = stderr.text().replace(/\x1b\[\d+m/g, '').split('\r\x1b[K');
    expect(lines.at(-1)).toBe('Error: interrupted by SIGINT\n');
  });
  it('costs nothing when no progress line is shown', () => {
    const stderr = terminal();
    const writer = new Writer('table', terminal(), stderr);
    writer.progress('\r\x1b[Kx');
    writer.progress('\r\x1b[K');
    writer.log('done');
    expect(stderr.text()).toBe('\r\x1b[Kx\r\x1b[Kdone\n');
  });
});

describe('the command a printed line tells the user to run (issue 27)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-invocation-'));
    await writeFile(path.join(dir, 'ayb'), '#!/bin/sh\n');
    await chmod(path.join(dir, 'ayb'), 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('is ayb when ayb is on PATH', () => {
    expect(invocation('ayb', { PATH: `/nonexistent:${dir}` }, '/src/ayb/bin/run.js', '/src/ayb')).toBe('ayb');
  });
  it('is the script that ran when it is not (a clone that npm link could not link)', () => {
    expect(invocation('ayb', { PATH: '/nonexistent' }, '/src/ayb/bin/run.js', '/src/ayb')).toBe('./bin/run.js');
    expect(invocation('ayb', { PATH: '' }, '/src/ayb/bin/run.js', '/home/me/elsewhere')).toBe('/src/ayb/bin/run.js');
    expect(invocation('ayb', { PATH: '' }, '/my projects/ayb/bin/run.js', '/tmp')).toBe("'/my projects/ayb/bin/run.js'");
  });
});

describe('completion offers only what the command takes there (issue 27)', () => {
  const none: string[] = [];
  it.each([
    ['branch delete', 'delete', { main: false, branches: true, snapshots: false }],
    ['branch reset', 'reset', { main: false, branches: true, snapshots: false }],
    ['branch show', '--json', { main: false, branches: true, snapshots: false }],
    ['branch url', 'url', { main: true, branches: true, snapshots: false }],
    ['branch diff', 'main', { main: true, branches: true, snapshots: true }],
    ['snapshot delete', 'delete', { main: false, branches: false, snapshots: true }],
    ['branch reset', '--to', { main: false, branches: false, snapshots: true }],
    ['branch create', '--from', { main: true, branches: true, snapshots: true }],
    ['start', '--branch', { main: false, branches: true, snapshots: false }],
  ])('%s after %s', (command, previous, sources) => {
    expect(nameSourcesFor(command, previous, ['--to', '--from', '--ttl', '--branch'])).toEqual(sources);
  });
  it.each([
    ['branch create', 'create'], // a new name
    ['branch create', '--ttl'], // a flag's free value
    ['branch rename', 'feature-auth'], // the new name
    ['snapshot create', 'create'],
    ['branch list', 'list'],
  ])('nothing for %s after %s', (command, previous) => {
    expect(nameSourcesFor(command, previous, ['--ttl', ...none])).toBeUndefined();
  });
});
