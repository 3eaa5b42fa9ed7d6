import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

/** Where mlpipe's Temporal lives. Local mode: the dev server on 127.0.0.1:7233. */
export interface ConnectionConfig {
  address: string;
  namespace: string;
  tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
}

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
}

/** Flags win over env (MLPIPE_TEMPORAL_ADDRESS, _NAMESPACE, _TLS_CERT, _TLS_KEY, _TLS_CA, _TLS_SERVER_NAME). */
export function connectionConfig(flags: ConnectionFlags = {}, env: NodeJS.ProcessEnv = process.env): ConnectionConfig {
  const cert = flags.tlsCert ?? env.MLPIPE_TEMPORAL_TLS_CERT;
  const key = flags.tlsKey ?? env.MLPIPE_TEMPORAL_TLS_KEY;
  const ca = flags.tlsCa ?? env.MLPIPE_TEMPORAL_TLS_CA;
  const serverName = flags.tlsServerName ?? env.MLPIPE_TEMPORAL_TLS_SERVER_NAME;
  if ((cert && !key) || (key && !cert)) {
    throw new Error('TLS client auth needs both --tls-cert and --tls-key');
  }
  const cfg: ConnectionConfig = {
    address: flags.address ?? env.MLPIPE_TEMPORAL_ADDRESS ?? DEFAULT_ADDRESS,
    namespace: flags.namespace ?? env.MLPIPE_TEMPORAL_NAMESPACE ?? DEFAULT_NAMESPACE,
  };
  if (cert || ca || serverName) {
    cfg.tls = { certPath: cert, keyPath: key, caPath: ca, serverName };
  }
  return cfg;
}

export function tlsOptions(cfg: ConnectionConfig) {
  if (!cfg.tls) return undefined;
  const t = cfg.tls;
  return {
    serverNameOverride: t.serverName,
    serverRootCACertificate: t.caPath ? readFileSync(t.caPath) : undefined,
    clientCertPair: t.certPath && t.keyPath ? { crt: readFileSync(t.certPath), key: readFileSync(t.keyPath) } : undefined,
  };
}

export async function connectClient(cfg: ConnectionConfig, o: { connectTimeoutMs?: number } = {}): Promise<Client> {
  try {
    const timeout = o.connectTimeoutMs !== undefined ? { connectTimeout: o.connectTimeoutMs } : {};
    const connection = await Connection.connect({ address: cfg.address, tls: tlsOptions(cfg), ...timeout });
    return new Client({ connection, namespace: cfg.namespace });
  } catch (err) {
    throw unreachable(cfg, err);
  }
}

export async function connectWorkerConnection(cfg: ConnectionConfig): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ address: cfg.address, tls: tlsOptions(cfg) });
  } catch (err) {
    throw unreachable(cfg, err);
  }
}

function unreachable(cfg: ConnectionConfig, err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return new Error(
    `cannot reach Temporal at ${cfg.address} (${why}); start a local server with 'mlpipe server' ` +
      `or pass --address / MLPIPE_TEMPORAL_ADDRESS`,
  );
}
