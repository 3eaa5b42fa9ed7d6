import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.ts';
import { readTokenFile, TOKEN_FILE_ENV } from '../../serving/auth.ts';
import { UsageError } from '../errors.ts';
import { checkedStore, withStoreOption } from '../store-option.ts';
import { checkedDb, withDbOption } from '../db-option.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port expects 0-65535 (0: a free port), got "${v}"`);
  return n;
}

function positive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a whole number of 1 or more, got "${v}"`);
    return n;
  };
}

function duration(flag: string): (v: string) => number {
  return (v) => {
    try {
      return parseDuration(v);
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}`);
    }
  };
}

const MAX_BATCH_ENV = 'MLPIPE_SERVE_MAX_BATCH';
const MAX_WAIT_ENV = 'MLPIPE_SERVE_MAX_WAIT';
const WORKERS_ENV = 'MLPIPE_SERVE_WORKERS';

function durationOrZero(flag: string): (v: string) => number {
  const d = duration(flag);
  return (v) => (/^0+(\.0+)?(ms|s|m|h|d)?$/.test(v) ? 0 : d(v));
}

/** A flag's default from its environment variable (checked like the flag), else `fallback`. */
function envNumber(name: string, parse: (v: string) => number, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  try {
    return parse(v);
  } catch (e) {
    throw new UsageError(`${name}: ${(e as Error).message}`);
  }
}

/** Both files or neither; read now so a wrong path is a usage error, not a crash after start-up. */
function readTls(cert?: string, key?: string): { cert: Buffer; key: Buffer } | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new UsageError(`--tls-cert and --tls-key go together (got only ${cert ? '--tls-cert' : '--tls-key'})`);
  const read = (flag: string, f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new UsageError(`${flag}: cannot read ${f}: ${(e as Error).message}`);
    }
  };
  return { cert: read('--tls-cert', cert), key: read('--tls-key', key) };
}

export function register(program: Command): void {
  withDbOption(
    withStoreOption(
      program
        .command('serve')
        .description(
          'run the model server: serves every model in the registry (mlpipe, TF Serving REST and KServe v2 ' +
            'protocols, Prometheus /metrics) and follows deploys/rollbacks (docs/serving.md)',
        )
        .option('--host <ip>', 'address to bind (127.0.0.1 unless you mean it)', '127.0.0.1')
        .option('--port <n>', 'port (0: a free one)', port, 8501)
        .option('--seed <n>', 'seed of canary routing (repeatable splits)', (v: string) => Number(v))
        .option('--verbose', "show TensorFlow's native start-up and info logs")
        .option('--max-rows <n>', 'rows per request at most (413 beyond)', positive('--max-rows'), 10_000)
        .option(
          '--max-body <bytes>',
          'request body size at most, also once inflated (413 beyond)',
          positive('--max-body'),
          10 * 1024 * 1024,
        )
        .option('--body-timeout <duration>', 'time to receive a request body (408 beyond), e.g. 30s', duration('--body-timeout'), 30_000)
        .option(
          '--max-batch <rows>',
          'micro-batching: rows scored in one pass at most, over concurrent requests (default 256; 1: every ' +
            `request alone; env ${MAX_BATCH_ENV})`,
          positive('--max-batch'),
        )
        .option(
          '--max-wait <duration>',
          `micro-batching: the longest a request waits for others still arriving, default 2ms (0ms: never wait; env ${MAX_WAIT_ENV})`,
          durationOrZero('--max-wait'),
        )
        .option(
          '--workers <n>',
          `processes serving the port (default 1; env ${WORKERS_ENV}): each loads every model, readiness waits for all`,
          positive('--workers'),
        )
        .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
        .option('--tls-key <file>', 'the PEM private key of --tls-cert')
        .option(
          '--auth-token-file <file>',
          `bearer token for feedback (labels) and /recent; both are off without one (env ${TOKEN_FILE_ENV})`,
          process.env[TOKEN_FILE_ENV] || undefined,
        ),
    ),
  ).action(
    async (o: {
      host: string;
      port: number;
      seed?: number;
      authTokenFile?: string;
      tlsCert?: string;
      tlsKey?: string;
      maxRows: number;
      maxBody: number;
      bodyTimeout: number;
      maxBatch?: number;
      maxWait?: number;
      workers?: number;
    }) => {
      let authToken: string | undefined;
      try {
        authToken = o.authTokenFile ? readTokenFile(o.authTokenFile) : undefined;
      } catch (e) {
        throw new UsageError(`--auth-token-file: ${(e as Error).message}`);
      }
      const tls = readTls(o.tlsCert, o.tlsKey);
      const maxBatch = o.maxBatch ?? envNumber(MAX_BATCH_ENV, positive('--max-batch'), 256);
      const maxWait = o.maxWait ?? envNumber(MAX_WAIT_ENV, durationOrZero('--max-wait'), 2);
      const workers = o.workers ?? envNumber(WORKERS_ENV, positive('--workers'), 1);
      const store = await checkedStore();
      const db = await checkedDb();
      const cluster = await import('../../serving/cluster.ts');
      const worker = cluster.isClusterWorker() ? `[worker ${process.env.MLPIPE_SERVE_WORKER}] ` : '';
      const options = {
        host: o.host,
        port: o.port,
        seed: o.seed,
        authToken,
        tls,
        maxRows: o.maxRows,
        maxBodyBytes: o.maxBody,
        bodyTimeoutMs: o.bodyTimeout,
        batch: { maxBatch, maxWaitMs: maxWait },
        log: (l: string) => process.stderr.write(`${worker}${l}\n`),
      };
      // A worker of `--workers N` (this same command, forked by the primary): serve until told to stop.
      if (worker) return cluster.runWorker(options);
      const signalled = () =>
        new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
      let url: string;
      let stop: () => Promise<void>;
      if (workers > 1) {
        const { Registry } = await import('../../serving/registry.ts');
        ({ url, stop } = await cluster.startPrimary({ workers, registry: new Registry(), auth: !!authToken, log: options.log }));
      } else {
        const { ModelServer } = await import('../../serving/server.ts');
        const server = new ModelServer(options);
        url = await server.start();
        stop = () => server.stop();
      }
      const auth = authToken ? 'feedback and /recent need the bearer token' : 'feedback and /recent are off (no --auth-token-file)';
      const procs = workers > 1 ? `, ${workers} worker processes` : '';
      process.stdout.write(`mlpipe model server at ${url} (registry ${db}, artifacts ${store}; ${auth}${procs}). Ctrl-C to stop.\n`);
      // The other doors on the same port (docs/serving.md#protocols-which-route-to-use).
      process.stdout.write(
        `  TF Serving REST: ${url}/v1/models/<name>[/versions/<n>]:predict   KServe ` +
          `v2: ${url}/v2/models/<name>/infer\n  Prometheus: ${url}/metrics   liveness: ${url}/livez ` +
          `  readiness: ${url}/readyz\n`,
      );
      await signalled();
      await stop();
    },
  );
}
