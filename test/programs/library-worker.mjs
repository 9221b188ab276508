// One of several agents working on one server at once (test/integration/agent-workers.test.ts):
// through the library, it makes and drops branches of its own and fights the others over shared
// names. Prints what happened as one JSON document. Usage: node library-worker.mjs <worker> <rounds>
import { AybError, openAyb } from 'ayb';

const [worker, rounds] = [process.argv[2], Number(process.argv[3])];
const ayb = await openAyb();
const out = { worker, created: [], deleted: [], refused: [], unexpected: [] };
const attempt = async (op, name, fn) => {
  try {
    await fn();
    (op === 'create' ? out.created : out.deleted).push(name);
  } catch (error) {
    if (error instanceof AybError && (error.exitCode === 3 || error.exitCode === 4)) out.refused.push({ op, name, code: error.code });
    else out.unexpected.push({ op, name, code: error?.code, message: String(error?.message) });
  }
};
for (let i = 0; i < rounds; i++) {
  const own = `w${worker}-${i}`;
  const shared = `shared-${i % 2}`;
  await attempt('create', own, () => ayb.create(own, { from: 'seed' }));
  await attempt('create', shared, () => ayb.create(shared, { from: 'seed' }));
  await attempt('delete', own, () => ayb.delete(own));
  await attempt('delete', shared, () => ayb.delete(shared));
}
process.stdout.write(JSON.stringify(out));
