// A Node program using ayb as a library, as an agent harness would: imports the package by its
// name (the `exports` entry of package.json, i.e. the built dist/lib/index.js), works through one
// branch-mutate-evaluate loop, and prints what each call returned as one JSON document.
// The main database comes from AYB_DATABASE_URL. Used by test/integration/library.test.ts.
import pg from 'pg';
import { AybError, errorJson, openAyb } from 'ayb';

const ayb = await openAyb();
const out = {};
const query = async (url, sql) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};

out.created = await ayb.create('lib-a');
out.url = await ayb.url('lib-a');
await query(out.url.url, "INSERT INTO items VALUES (100, 'added by the agent')");
out.diffData = await ayb.diff('main', 'lib-a', { data: true });
out.diffSchema = await ayb.diff('main', 'lib-a');
out.snapshot = await ayb.snapshot('lib-snap', { of: 'lib-a' });
// Several calls at once, each its own command.
const [fromSnapshot, fromBranch] = await Promise.all([ayb.create('lib-b', { from: 'lib-snap' }), ayb.create('lib-c', { from: 'lib-a', strategy: 'dump' })]);
out.fromSnapshot = fromSnapshot;
out.fromBranch = fromBranch;
out.list = await ayb.list();
out.snapshots = await ayb.list({ kind: 'snapshot' });
out.reset = await ayb.reset('lib-a');
out.afterReset = await query((await ayb.url('lib-a')).url, 'SELECT count(*)::int AS n FROM items WHERE id = 100');
try {
  await ayb.create('lib-a');
  out.duplicate = 'no error';
} catch (error) {
  out.duplicate = { isAybError: error instanceof AybError, code: error.code, exitCode: error.exitCode, json: errorJson(error) };
}
try {
  await ayb.url('no-such-branch');
} catch (error) {
  out.missing = errorJson(error);
}
out.deleted = [await ayb.delete('lib-b'), await ayb.delete('lib-c'), await ayb.deleteSnapshot('lib-snap')];
out.listAfter = await ayb.list();
process.stdout.write(JSON.stringify(out));
