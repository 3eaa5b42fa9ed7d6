/**
 * Shared pieces of the run-control commands (src/cli/commands/{server,worker,run,…}.ts):
 * connection flags and loading a plan from a spec file or a compiled plan.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { Plan } from '../core/plan.ts';
import { UsageError } from './errors.ts';
import { prototypeKeyPath } from '../spec/reserved-names.ts';
import { connectClient, connectionConfig, type ConnectionConfig, type ConnectionFlags } from '../temporal/connection.ts';
import type { SourceInfo } from '../temporal/runs.ts';

export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--address <host:port>', 'Temporal frontend (env MLPIPE_TEMPORAL_ADDRESS; default 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (env MLPIPE_TEMPORAL_NAMESPACE; default "default")')
    .option('--tls-cert <file>', 'client certificate for mTLS (env MLPIPE_TEMPORAL_TLS_CERT)')
    .option('--tls-key <file>', 'client key for mTLS (env MLPIPE_TEMPORAL_TLS_KEY)')
    .option('--tls-ca <file>', 'CA certificate of the server (env MLPIPE_TEMPORAL_TLS_CA)');
}

export function configFrom(opts: ConnectionFlags): ConnectionConfig {
  try {
    return connectionConfig(opts);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function clientFrom(opts: ConnectionFlags, o: { connectTimeoutMs?: number } = {}): Promise<Client> {
  return connectClient(configFrom(opts), o);
}

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} expects a whole number ≥ 0, got "${v}"`);
    return n;
  };
}

/**
 * A plan from a pipeline spec (through the compiler), or from a compiled plan JSON file
 * (what `mlpipe plan` prints, apiVersion mlpipe.dev/plan/v1).
 */
export async function loadPlan(file: string, params: Record<string, string> = {}): Promise<{ plan: Plan; source: SourceInfo }> {
  const path = resolve(file);
  if (path.endsWith('.json')) {
    let plan: Plan;
    try {
      plan = JSON.parse(readFileSync(path, 'utf8')) as Plan;
    } catch (err) {
      throw new UsageError(`cannot read plan ${file}: ${(err as Error).message}`);
    }
    if (plan.apiVersion !== 'mlpipe.dev/plan/v1') throw new UsageError(`${file} is not a compiled plan (apiVersion mlpipe.dev/plan/v1)`);
    const proto = prototypeKeyPath(plan);
    if (proto !== undefined)
      throw new UsageError(`${file}: a \`__proto__\` key at ${proto}; compile plans with \`mlpipe plan\`, which refuses such keys`);
    if (Object.keys(params).length) throw new UsageError('--param applies to specs, not to compiled plans');
    return { plan, source: { file } };
  }
  // An invalid spec prints its located diagnostics and exits 1, as `mlpipe validate` does.
  const { compileOrReport } = await import('./compile-or-report.ts');
  return compileOrReport(file, params);
}
