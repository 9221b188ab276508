import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { freePort } from '../helpers/cluster.js';

/**
 * What a command loads on its way to the database: every millisecond of it is in every branch
 * create, and a template create of a gigabyte is under a second of server work.
 */
describe('CLI start-up', () => {
  let dir: string;
  let probe: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-startup-'));
    probe = path.join(dir, 'probe.mjs');
    // At exit: which of Node's own modules were loaded, and whether the fetch globals still work.
    await writeFile(probe, [
      "import { writeFileSync } from 'node:fs';",
      "import { createRequire } from 'node:module';",
      "process.on('exit', () => {",
      '  const undici = process.moduleLoadList.some((m) => m.includes("undici"));',
      // CommonJS packages imported from node_modules land in require's cache; bundled ones do not.
      "  const packages = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/'));",
      "  writeFileSync(process.env.AYB_TEST_PROBE_OUT, JSON.stringify({ undici, packages, response: typeof Response, body: typeof new Response('x').text }));",
      '});',
    ].join('\n'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs from the bundle and loads pg without Node's fetch implementation, leaving the fetch globals as they were", async () => {
    const out = path.join(dir, 'out.json');
    // A closed port: the command loads everything it needs to connect, then fails to.
    const port = await freePort();
    const result = await execa('node', [`--import=${probe}`, BIN, 'branch', 'list', '--json'], {
      reject: false,
      stdin: 'ignore',
      // NODE_ENV=test as CI jobs set it: oclif then used to load the TypeScript compiler (see src/cli.ts).
      env: { AYB_DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/app`, AYB_TEST_PROBE_OUT: out, NODE_ENV: 'test' },
    });
    expect(result.exitCode).toBe(5);
    expect(JSON.parse(result.stdout).error.code).toBe('connection_failed');
    // dist/ayb.cjs holds oclif, pg and zod (src/build/bundle.ts): none is read from node_modules.
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({ undici: false, packages: [], response: 'function', body: 'function' });
  });

  it('says how to build it when dist/ayb.cjs is missing (exit 1)', async () => {
    const checkout = path.join(dir, 'unbuilt');
    await mkdir(path.join(checkout, 'bin'), { recursive: true });
    await copyFile(BIN, path.join(checkout, 'bin', 'run.js'));
    const result = await execa('node', [path.join(checkout, 'bin', 'run.js'), 'branch', 'list'], { reject: false, stdin: 'ignore' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`Error: ayb is not built (dist/ayb.cjs is missing)\nHint: run npm ci && npm run build in ${checkout}/`);
  });
});
