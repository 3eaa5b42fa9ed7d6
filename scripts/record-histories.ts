/**
 * Records the replay corpus, test/fixtures/histories/: real histories of runs that take every
 * path of the interpreter workflow (scripts/record-histories/cases.ts), as compact JSON, with
 * manifest.json saying what each exercises and which commit recorded it.
 * test/workflows/replay-corpus.test.ts replays them all against the current workflow code.
 *
 *   npx tsx scripts/record-histories.ts                       # every case
 *   npx tsx scripts/record-histories.ts --only approval-gate  # some cases (comma-separated)
 *
 * Record from the released code: a clean checkout of the commit that runs in production, before
 * changing workflows/ (docs/runtime.md, "Changing the interpreter"). It starts its own Temporal
 * dev server, workers on the default queues and a model server, all in a scratch directory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { CASES, type Recorded, type RecordContext } from './record-histories/cases.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'test/fixtures/histories');
const MANIFEST = join(OUT, 'manifest.json');

export interface ManifestEntry {
  file: string;
  workflowId: string;
  exercises: string;
  /** The commit whose workflow code recorded it, and that code's tree (`git rev-parse <sha>:workflows`). */
  gitSha: string;
  workflowsTree: string;
  sdk: string;
  recordedAt: string;
  events: number;
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !CASES.some((c) => c.name === n)) ?? [];
  if (unknown.length) throw new Error(`no case ${unknown.join(', ')} (cases: ${CASES.map((c) => c.name).join(', ')})`);
  // A history must be attributable to a commit: the code that ran must be what HEAD holds.
  const dirty = git('status', '--porcelain', '--', 'workflows', 'src', 'activities');
  if (dirty) throw new Error(`uncommitted changes in the code that records:\n${dirty}\ncommit or stash them first`);
  process.chdir(ROOT); // spawned workers run bin/mlpipe.js from here

  const scratch = mkdtempSync(join(tmpdir(), 'mlpipe-record-'));
  const home = join(scratch, 'home');
  process.env.MLPIPE_HOME = home;
  process.env.MLPIPE_SERVE_AUTOSTART = '0';
  delete process.env.MLPIPE_ARTIFACTS;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Loaded after MLPIPE_HOME is set: modules that read it at import see the scratch home.
  const { startDevServer } = await import('../src/temporal/dev-server.ts');
  const { freePort } = await import('../test/support/ports.ts');
  const { buildActivities } = await import('../activities/index.ts');
  const { createWorkers } = await import('../src/temporal/worker.ts');
  const { Registry, registryDir } = await import('../src/serving/registry.ts');
  const { ModelServer } = await import('../src/serving/server.ts');

  const server = await startDevServer({ dbFile: join(scratch, 'temporal.db'), port: await freePort(), uiPort: null });
  process.env.MLPIPE_TEMPORAL_ADDRESS = server.address; // the monitor's retrain client
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const native = await NativeConnection.connect({ address: server.address });
  const registry = new Registry(registryDir(home));
  const models = new ModelServer({ registry, pollMs: 100 });
  await models.start();
  const activities = await buildActivities({ home, userModule: join(ROOT, 'scripts/record-histories/activities.ts') });
  const workers = await createWorkers({
    connection: native,
    namespace: 'default',
    activities,
    maxConcurrentActivities: 8,
    shutdownGraceTime: '1s',
  });
  const running = workers.map((w) => w.run());
  const ctx: RecordContext = { client, address: server.address, home, scratch, registry, serverUrl: models.url };

  const recorded: ManifestEntry[] = [];
  const base = { gitSha: git('rev-parse', 'HEAD'), workflowsTree: git('rev-parse', 'HEAD:workflows'), sdk: sdkVersion() };
  try {
    for (const c of CASES.filter((c) => !only || only.includes(c.name))) {
      process.stdout.write(`${c.name} ...\n`);
      for (const r of await c.run(ctx)) recorded.push(await save(client, r, base));
    }
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(running);
    await native.close();
    await client.connection.close();
    await models.stop();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  writeManifest(recorded);
}

async function save(client: Client, r: Recorded, base: Pick<ManifestEntry, 'gitSha' | 'workflowsTree' | 'sdk'>): Promise<ManifestEntry> {
  const history = await client.workflow.getHandle(r.workflowId, r.runId).fetchHistory();
  const text = JSON.stringify(JSON.parse(historyToJSON(history))); // compact
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${r.name}.json`), text);
  const events = history.events?.length ?? 0;
  process.stdout.write(`  ${r.name}.json: ${events} events, ${(text.length / 1024).toFixed(1)} KiB\n`);
  return {
    file: `${r.name}.json`,
    workflowId: r.workflowId,
    exercises: r.exercises,
    ...base,
    recordedAt: new Date().toISOString(),
    events,
  };
}

/** Entries recorded now replace those of the same file; the others stay. */
function writeManifest(recorded: ManifestEntry[]): void {
  const old: ManifestEntry[] = existsSync(MANIFEST)
    ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { histories: ManifestEntry[] }).histories
    : [];
  const now = new Set(recorded.map((e) => e.file));
  const histories = [...old.filter((e) => !now.has(e.file)), ...recorded].sort((a, b) => (a.file < b.file ? -1 : 1));
  const doc = {
    about:
      'Histories of real runs, replayed against the current workflow code by ' +
      'test/workflows/replay-corpus.test.ts. Recorded by scripts/record-histories.ts; see docs/runtime.md, ' +
      '"Changing the interpreter".',
    histories,
  };
  writeFileSync(MANIFEST, `${JSON.stringify(doc, null, 1)}\n`);
}

function sdkVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules/@temporalio/workflow/package.json'), 'utf8')) as { version: string }).version;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`record-histories: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
