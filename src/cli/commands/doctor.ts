// `mlpipe doctor`: is this host set up to be a worker? One line per check (✓ ok, ! warning,
// ✗ failure) and, under each that is not ok, what to fix. Exit 0 unless a check failed: a
// warning (pure-JS training, a GPU queue without CUDA) still lets the worker run.
import type { Command } from 'commander';
import { withConnectionOptions } from '../temporal-options.ts';
import { STORE_HELP } from '../store-option.ts';
import { DB_HELP } from '../db-option.ts';
import { ReportedFailure } from '../errors.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import type { CheckResult } from '../doctor-checks.ts';

interface DoctorFlags extends ConnectionFlags {
  store?: string;
  db?: string;
  gpuQueue: boolean;
  json?: boolean;
}

const MARK = { ok: '✓', warn: '!', fail: '✗' } as const;

async function runChecks(o: DoctorFlags): Promise<CheckResult[]> {
  const c = await import('../doctor-checks.ts');
  const { result: temporal, cfg } = await c.checkTemporal(o);
  const results = [temporal];
  // The Temporal CLI matters only where `mlpipe server` would start the local server.
  if (temporal.status === 'fail' && cfg && c.isLoopback(cfg.address)) results.push(await c.checkTemporalCli());
  results.push(await c.checkStore(), await c.checkDb(o.db), ...(await c.checkBackend(o.gpuQueue)));
  return results;
}

/** Every secret the settings hold, so none reaches the output in any form. */
async function secrets(): Promise<string[]> {
  const { secretsInUse } = await import('../../redaction.ts');
  const s = [...secretsInUse()];
  for (const k of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) if (process.env[k]) s.push(process.env[k]!);
  try {
    const pw = process.env.MLPIPE_DB ? new URL(process.env.MLPIPE_DB).password : '';
    if (pw) s.push(pw, decodeURIComponent(pw));
  } catch {
    // not a URL: nothing to hide
  }
  return s.filter((x) => x.length >= 4);
}

function render(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map((r) => `${MARK[r.status]} ${r.name.padEnd(width)}  ${r.detail}${r.fix ? `\n  ${' '.repeat(width)}  fix: ${r.fix}` : ''}`)
    .join('\n');
}

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('doctor')
      .description("check this host's worker configuration: Temporal, artifact store, metadata database, training backend and GPU")
      .option('--store <uri>', STORE_HELP)
      .option('--db <url>', DB_HELP)
      .option('--no-gpu-queue', 'this worker will not serve the mlpipe-gpu queue (CPU-only worker in a cluster)')
      .option('--json', 'print the checks as JSON')
      .option('--verbose', "show TensorFlow's native start-up and info logs"),
  ).action(async (o: DoctorFlags) => {
    // Through the environment, as `mlpipe worker` passes them to what it starts.
    if (o.store) process.env.MLPIPE_STORE = o.store;
    if (o.db) process.env.MLPIPE_DB = o.db;
    const { closeDbs } = await import('../../db/index.ts');
    let results: CheckResult[];
    try {
      results = await runChecks(o);
    } finally {
      await closeDbs();
    }
    const ok = results.every((r) => r.status !== 'fail');
    const out = o.json ? JSON.stringify({ ok, checks: results }, null, 2) : render(results);
    const { redactText } = await import('../../redaction.ts');
    process.stdout.write(`${redactText(out, await secrets())}\n`);
    if (!ok) throw new ReportedFailure('doctor found problems');
  });
}
