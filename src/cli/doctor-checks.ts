// The checks `mlpipe doctor` runs (src/cli/commands/doctor.ts): each uses the same code path a
// worker uses at start, so a ✓ here means the worker gets past that point on this host. A check
// never throws: it returns what failed and the setting to fix.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { ConnectionConfig, ConnectionFlags } from '../temporal/connection.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to change, naming the setting; set for warn and fail. */
  fix?: string;
}

const text = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const TEMPORAL_FIX = '--address / MLPIPE_TEMPORAL_ADDRESS (and --tls-* / MLPIPE_TEMPORAL_TLS_* for mTLS)';

/** The frontend answers and the namespace exists (what every run and worker needs). */
export async function checkTemporal(flags: ConnectionFlags): Promise<{ result: CheckResult; cfg?: ConnectionConfig }> {
  const name = 'temporal';
  const { connectionConfig, tlsOptions } = await import('../temporal/connection.ts');
  let cfg: ConnectionConfig;
  try {
    cfg = connectionConfig(flags);
  } catch (e) {
    return { result: { name, status: 'fail', detail: text(e), fix: `set both --tls-cert and --tls-key (MLPIPE_TEMPORAL_TLS_CERT, _KEY)` } };
  }
  const { Connection } = await import('@temporalio/client');
  let conn: Awaited<ReturnType<typeof Connection.connect>> | undefined;
  try {
    // A short timeout: a firewall that drops packets must not hang the doctor for minutes.
    conn = await Connection.connect({ address: cfg.address, tls: tlsOptions(cfg), connectTimeout: 5_000 });
  } catch (e) {
    const local = isLoopback(cfg.address) ? "; for local mode start one with 'mlpipe server'" : '';
    return {
      cfg,
      result: {
        name,
        status: 'fail',
        detail: `cannot reach Temporal at ${cfg.address} (${text(e)})`,
        fix: `point ${TEMPORAL_FIX} at a reachable frontend${local}`,
      },
    };
  }
  try {
    await conn.workflowService.describeNamespace({ namespace: cfg.namespace });
    return { cfg, result: { name, status: 'ok', detail: `${cfg.address}, namespace ${cfg.namespace}` } };
  } catch (e) {
    const missing = (e as { code?: number }).code === 5; // gRPC NOT_FOUND
    return {
      cfg,
      result: {
        name,
        status: 'fail',
        detail: missing ? `namespace "${cfg.namespace}" does not exist at ${cfg.address}` : `Temporal at ${cfg.address}: ${text(e)}`,
        fix: missing
          ? `create it (temporal operator namespace create ${cfg.namespace}) or fix --namespace / MLPIPE_TEMPORAL_NAMESPACE`
          : `check the server's health and ${TEMPORAL_FIX}`,
      },
    };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export function isLoopback(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Local mode only: `mlpipe server` starts the dev server with the Temporal CLI. */
export async function checkTemporalCli(): Promise<CheckResult> {
  const { findTemporalCli } = await import('../temporal/cli-binary.ts');
  try {
    return { name: 'temporal cli', status: 'ok', detail: `${findTemporalCli()} (for 'mlpipe server')` };
  } catch (e) {
    return { name: 'temporal cli', status: 'fail', detail: text(e), fix: 'install it, or set TEMPORAL_CLI_PATH' };
  }
}

const STORE_FIX = '--store / MLPIPE_STORE (for s3://: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)';

/** Writes a probe artifact, reads it back checksum-verified, and removes it again. */
export async function checkStore(): Promise<CheckResult> {
  const name = 'artifact store';
  const { defaultStore } = await import('../artifacts/index.ts');
  let where = process.env.MLPIPE_STORE ?? '$MLPIPE_HOME/artifacts';
  try {
    const store = defaultStore();
    where = store.location;
    await store.check();
    // Unique bytes, so two hosts probing one store at once never remove each other's probe.
    const data = Buffer.from(`mlpipe doctor probe from ${hostname()} ${randomUUID()}\n`);
    const workflowId = 'mlpipe-doctor';
    const lineage = { workflowId, runId: hostname(), pipeline: 'mlpipe-doctor', stage: 'probe', attempt: 1, planHash: '', inputs: {} };
    const ref = await store.put(data, { kind: 'report', lineage });
    const back = await store.get(ref);
    if (!back.equals(data)) throw new Error(`the probe read back from ${where} differs from what was written`);
    await store.remove?.(ref, workflowId);
    return { name, status: 'ok', detail: `${where}: wrote and read back a probe artifact` };
  } catch (e) {
    return { name, status: 'fail', detail: `${where}: ${text(e)}`, fix: `point ${STORE_FIX} at a store this host can write` };
  }
}

/** Opens the database as a worker does (applying pending migrations) and reads its schema version. */
export async function checkDb(explicit?: string): Promise<CheckResult> {
  const name = 'metadata db';
  const { dbUrl, openDb, redactUrl, DB_SETTING } = await import('../db/index.ts');
  const url = dbUrl(explicit);
  try {
    const db = await openDb(url);
    const { LATEST } = await import('../db/migrations.ts');
    const v = await db.schemaVersion();
    if (v !== LATEST)
      return {
        name,
        status: 'fail',
        detail: `${db.where} has schema version ${v}, this mlpipe needs ${LATEST}`,
        fix: `restart against ${DB_SETTING} so migrations apply`,
      };
    return { name, status: 'ok', detail: `${db.where} (schema version ${v}, current)` };
  } catch (e) {
    return {
      name,
      status: 'fail',
      detail: `${redactUrl(url)}: ${text(e)}`,
      fix: `point ${DB_SETTING} at a reachable database: sqlite://<path> or postgres://user@host:5432/database`,
    };
  }
}

/** Native TensorFlow or pure JS, and whether a GPU-queue worker here would have CUDA. */
export async function checkBackend(gpuQueue: boolean): Promise<CheckResult[]> {
  const { selectBackend } = await import('../ml/runtime/backend.ts');
  const { probeGpu } = await import('../ml/runtime/gpu-probe.ts');
  const out: CheckResult[] = [];
  let backend: string;
  const warn = console.warn;
  // The backend prints a banner when it falls back to pure JS; the check's own line says it.
  console.warn = () => undefined;
  try {
    const { info } = selectBackend();
    backend = info.backend;
    const tf = info.tfVersion ? ` (TensorFlow ${info.tfVersion})` : '';
    out.push(
      backend === 'cpu-js'
        ? {
            name: 'training backend',
            status: 'warn',
            detail: 'pure JavaScript (about 250x slower than native TensorFlow)',
            fix: 'run `bash scripts/setup-native.sh` to build the native backend (docs/native-tensorflow.md)',
          }
        : { name: 'training backend', status: 'ok', detail: `${backend}${tf}` },
    );
  } catch (e) {
    return [
      {
        name: 'training backend',
        status: 'fail',
        detail: text(e),
        fix: 'fix MLPIPE_TF_BACKEND (auto, gpu, cpu or js) or the native build (docs/native-tensorflow.md)',
      },
    ];
  } finally {
    console.warn = warn;
  }
  if (!gpuQueue) out.push({ name: 'gpu', status: 'ok', detail: 'not serving the GPU queue (--no-gpu-queue)' });
  else if (backend === 'tensorflow-gpu') {
    const p = probeGpu();
    out.push({ name: 'gpu', status: 'ok', detail: p.ok ? `CUDA device ${p.device}` : 'CUDA device in use' });
  } else {
    const p = probeGpu();
    const why = p.ok ? 'the GPU build is not the selected backend (MLPIPE_TF_BACKEND)' : p.reason;
    out.push({
      name: 'gpu',
      status: 'warn',
      detail: `serving the GPU queue without CUDA, so GPU stages train on the CPU here: ${why}`,
      fix: `pass --no-gpu-queue to CPU-only workers${p.ok ? '' : `; for a GPU host: ${p.fix}`}`,
    });
  }
  return out;
}
