import { accessSync, constants } from 'node:fs';

/**
 * An argv prefix that makes a child die with ayb: on Linux, `setpriv --pdeathsig TERM --` (from
 * util-linux, on every Debian and Ubuntu) asks the kernel to send the child SIGTERM when ayb's
 * process ends, even by SIGKILL or the OOM killer, which ayb cannot catch. Without it a
 * `pg_dump | psql` whose bytes flow straight between the two would run on to the end of the clone
 * after ayb was killed. Where setpriv is missing or too old the prefix is empty: the children are
 * then still stopped on every exit ayb gets to handle (errors, SIGINT, SIGTERM).
 */
export function dieWithParentPrefix(): Promise<readonly string[]> {
  prefix ??= probe();
  return prefix;
}

let prefix: Promise<readonly string[]> | undefined;

const CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];

async function probe(): Promise<readonly string[]> {
  if (process.platform !== 'linux') return [];
  const file = CANDIDATES.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!file) return [];
  const args = ['--pdeathsig', 'TERM', '--'];
  // util-linux before 2.33 has setpriv without --pdeathsig; use it only if it takes the option.
  const { execa } = await import('execa');
  const check = await execa(file, [...args, 'true'], { reject: false, timeout: 5_000, stdin: 'ignore' });
  return check.exitCode === 0 ? [file, ...args] : [];
}
