// Sums the log written under AYB_TEST_CLI_LOG (test/helpers/cli.ts): per test file and per command,
// the number of CLI processes and their CPU time. Usage: node test/helpers/cli-cost.mjs <log>
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const group = (key) => {
  const sums = new Map();
  for (const line of lines) {
    const k = key(line);
    const sum = sums.get(k) ?? { calls: 0, cpu: 0, wall: 0 };
    sum.calls += 1;
    sum.cpu += line.cpu_ms;
    sum.wall += line.wall_ms;
    sums.set(k, sum);
  }
  return [...sums].sort((a, b) => b[1].cpu - a[1].cpu);
};
const show = (rows) => {
  for (const [k, s] of rows) console.log(`${k.padEnd(60)} ${String(s.calls).padStart(5)} calls ${(s.cpu / 1000).toFixed(1).padStart(7)} s CPU ${(s.wall / 1000).toFixed(1).padStart(7)} s wall`);
};
show(group((l) => l.file));
console.log('');
show(group((l) => `${l.file} :: ${l.command}`));
