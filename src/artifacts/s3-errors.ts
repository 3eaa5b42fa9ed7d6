// S3 failures in words that name the setting to fix. The SDK has already retried what a retry can
// fix (5xx, throttling, timeouts, refused connections) by the time one arrives here.
import { StoreUnavailableError } from './store.ts';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

export interface S3Where {
  /** The operation, e.g. `GetObject`. */
  op: string;
  bucket: string;
  key?: string;
  /** endpointLabel(env). */
  endpoint: string;
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'InvalidClientTokenId',
  'TokenRefreshRequired',
]);

/** The HTTP status, or undefined when no response came (network errors). */
export function s3Status(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

export function isNotFound(e: unknown): boolean {
  const n = (e as SdkError)?.name;
  return n === 'NoSuchKey' || n === 'NotFound' || (s3Status(e) === 404 && n !== 'NoSuchBucket');
}

/** An error saying what went wrong and which setting fixes it; unknown errors keep their text, with the place. */
export function explainS3Error(e: unknown, w: S3Where): Error {
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? '';
  const status = s3Status(e);
  const attempts = err.$metadata?.attempts;
  const place = `s3://${w.bucket}/${w.key ?? ''}`;
  const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  const msg = err.message ?? String(e);
  if (name === 'NoSuchBucket' || (status === 404 && w.op === 'HeadBucket')) {
    return new StoreUnavailableError(
      `the S3 bucket "${w.bucket}" does not exist at ${w.endpoint}: create it, or name an existing one in ` +
        '--store / MLPIPE_STORE (s3://<bucket>/<prefix>)',
      { cause: e },
    );
  }
  if (name === 'AccessDenied') {
    return new StoreUnavailableError(
      `the S3 credentials may not ${w.op} ${place} at ${w.endpoint} (AccessDenied): grant them s3:GetObject, s3:PutObject, ` +
        's3:DeleteObject and s3:ListBucket on the bucket, or use other credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE)',
      { cause: e },
    );
  }
  // A HEAD's 403 has no body to say why: bad credentials and missing permissions look alike.
  if (CREDENTIALS.has(name) || status === 403) {
    return new StoreUnavailableError(
      `${w.endpoint} refused the S3 credentials (${CREDENTIALS.has(name) ? name : `${status}`}) on ${w.op} ${place}: ` +
        'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and that they may use this bucket',
      { cause: e },
    );
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(msg)) {
    return new StoreUnavailableError(
      `no S3 credentials found for ${w.endpoint}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)`,
      { cause: e },
    );
  }
  if (/region is missing/i.test(msg)) {
    return new StoreUnavailableError(
      'the S3 store needs a region: set AWS_REGION (servers that ignore regions, e.g. MinIO or SeaweedFS, take any, such as us-east-1)',
      { cause: e },
    );
  }
  if (
    status === undefined &&
    (NETWORK.has(err.code ?? '') || NETWORK.has(name) || name === 'TimeoutError' || /timed? ?out|socket hang up/i.test(msg))
  ) {
    return new StoreUnavailableError(
      `cannot reach the S3 endpoint ${w.endpoint} (${err.code ?? name})${tries} on ${w.op} ${place}: ` +
        'check AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) and that the server is up and reachable from this host',
      { cause: e },
    );
  }
  if (status !== undefined && status >= 500) {
    return new Error(`S3 ${w.op} ${place} at ${w.endpoint} failed with ${status} ${name}${tries}: ${msg}`, { cause: e });
  }
  return new Error(`S3 ${w.op} ${place} at ${w.endpoint}: ${name ? `${name}: ` : ''}${msg}`, { cause: e });
}
