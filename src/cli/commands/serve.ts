import type { Command } from 'commander';
import { readTokenFile, TOKEN_FILE_ENV } from '../../serving/auth.ts';
import { UsageError } from '../errors.ts';
import { checkedStore, withStoreOption } from '../store-option.ts';
import { checkedDb, withDbOption } from '../db-option.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port expects 0-65535 (0: a free port), got "${v}"`);
  return n;
}

export function register(program: Command): void {
  withDbOption(withStoreOption(
    program
      .command('serve')
      .description('run the model server: serves every model in the registry (mlpipe, TF Serving REST and KServe v2 protocols, Prometheus /metrics) and follows deploys/rollbacks (docs/serving.md)')
      .option('--host <ip>', 'address to bind (127.0.0.1 unless you mean it)', '127.0.0.1')
      .option('--port <n>', 'port (0: a free one)', port, 8501)
      .option('--seed <n>', 'seed of canary routing (repeatable splits)', (v: string) => Number(v))
      .option('--verbose', "show TensorFlow's native start-up and info logs")
      .option('--auth-token-file <file>', `bearer token for feedback (labels) and /recent; both are off without one (env ${TOKEN_FILE_ENV})`, process.env[TOKEN_FILE_ENV] || undefined),
  )).action(async (o: { host: string; port: number; seed?: number; authTokenFile?: string }) => {
    let authToken: string | undefined;
    try {
      authToken = o.authTokenFile ? readTokenFile(o.authTokenFile) : undefined;
    } catch (e) {
      throw new UsageError(`--auth-token-file: ${(e as Error).message}`);
    }
    const store = await checkedStore();
    const db = await checkedDb();
    const { ModelServer } = await import('../../serving/server.ts');
    const server = new ModelServer({ host: o.host, port: o.port, seed: o.seed, authToken, log: (l) => process.stderr.write(`${l}\n`) });
    const url = await server.start();
    const auth = authToken ? 'feedback and /recent need the bearer token' : 'feedback and /recent are off (no --auth-token-file)';
    process.stdout.write(`mlpipe model server at ${url} (registry ${db}, artifacts ${store}; ${auth}). Ctrl-C to stop.\n`);
    // The other doors on the same port (docs/serving.md#protocols-which-route-to-use).
    process.stdout.write(`  TF Serving REST: ${url}/v1/models/<name>[/versions/<n>]:predict   KServe v2: ${url}/v2/models/<name>/infer\n  Prometheus: ${url}/metrics   liveness: ${url}/livez   readiness: ${url}/readyz\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.stop();
  });
}
