// The S3 client of the S3 store, configured only through the AWS SDK's standard settings
// (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE,
// AWS_REGION, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE), so AWS, MinIO, SeaweedFS, Ceph and R2 work alike.
import { S3Client } from '@aws-sdk/client-s3';
import { StoreUnavailableError } from './store.ts';

// mlpipe pins the SDK's version; its warning is about versions published after January 2027.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3Location {
  bucket: string;
  /** Key prefix: '' or ending in '/'. */
  prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/prefix` → bucket and key prefix; a clear error naming the setting otherwise. */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/?#]*)\/?([^?#]*)$/.exec(uri);
  if (!m || !BUCKET.test(m[1]!)) {
    throw new StoreUnavailableError(
      `--store / MLPIPE_STORE ${JSON.stringify(uri)} is not s3://<bucket>/<prefix> with a valid bucket name ` +
        '(3-63 lower-case letters, digits, dots and dashes)',
    );
  }
  const parts = m[2]!.split('/').filter(Boolean);
  if (parts.some((p) => p === '.' || p === '..')) {
    throw new StoreUnavailableError(`--store / MLPIPE_STORE ${JSON.stringify(uri)}: the prefix may not contain . or .. segments`);
  }
  return { bucket: m[1]!, prefix: parts.length ? `${parts.join('/')}/` : '' };
}

/** The endpoint URL set in the environment (the SDK's own precedence), if any. */
export function configuredEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/** The endpoint for messages, without any user:password it may carry. */
export function endpointLabel(env: NodeJS.ProcessEnv): string {
  const e = configuredEndpoint(env);
  if (!e) return `AWS S3${env.AWS_REGION ? ` (${env.AWS_REGION})` : ''}`;
  try {
    const u = new URL(e);
    u.username = '';
    u.password = '';
    return u.href.replace(/\/$/, '');
  } catch {
    return e;
  }
}

export interface ClientOptions {
  /** Socket idle time before a request is abandoned and retried (ms, default 60 s). */
  requestTimeoutMs?: number;
  /** Time to open a connection (ms, default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * An S3 client from `env`. With an endpoint URL set (MinIO, SeaweedFS, Ceph, R2) requests use
 * path-style addressing (`<endpoint>/<bucket>/<key>`), which those servers accept without
 * wildcard DNS; without one (AWS itself) the SDK's virtual-hosted style. The SDK has no standard
 * setting for this. Retries: the SDK's standard mode (exponential backoff with jitter on 5xx,
 * throttling, timeouts and connection errors), 5 attempts unless AWS_MAX_ATTEMPTS says otherwise.
 * Checksums: the store sends SHA-256 itself and verifies what it reads, so the SDK adds none.
 */
export function createS3Client(env: NodeJS.ProcessEnv, o: ClientOptions = {}): S3Client {
  const endpoint = configuredEndpoint(env);
  const creds =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(creds ? { credentials: creds } : {}),
    maxAttempts: Number(env.AWS_MAX_ATTEMPTS) > 0 ? Number(env.AWS_MAX_ATTEMPTS) : 5,
    ...(env.AWS_RETRY_MODE ? { retryMode: env.AWS_RETRY_MODE } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      requestTimeout: o.requestTimeoutMs ?? 60_000,
      connectionTimeout: o.connectTimeoutMs ?? 10_000,
      throwOnRequestTimeout: true,
    },
  });
}
