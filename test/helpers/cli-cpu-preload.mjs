// Loaded into each `ayb` CLI process (node --import) only when AYB_TEST_CLI_LOG is set in the test
// process (test/helpers/cli.ts): on exit, appends one line of JSON with the process's own CPU time.
import { appendFileSync } from 'node:fs';

const file = process.env.AYB_TEST_CLI_LOG_FILE;
const tag = process.env.AYB_TEST_CLI_LOG_TAG;
const started = Date.now();
if (file) {
  process.on('exit', (code) => {
    const cpu = process.cpuUsage();
    try {
      appendFileSync(file, JSON.stringify({ ...JSON.parse(tag ?? '{}'), exit: code, started, cpu_ms: Math.round((cpu.user + cpu.system) / 1000), wall_ms: Date.now() - started }) + '\n');
    } catch {
      // a log for measuring the suite: never a reason to fail a command
    }
  });
}
