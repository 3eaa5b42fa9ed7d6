/**
 * `${secrets.NAME}`: resolved on the worker from MLPIPE_SECRET_NAME, never in a plan or a
 * workflow history, and redacted from errors and outputs. The end-to-end case runs on the real
 * dev server: a collect stage reads a CSV from a local HTTP server that wants a bearer token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { redact, redactError, resolveSecrets } from '../../activities/lib/secrets.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const TOKEN = 'tok-7f3a9c1e5b';
const KEY = 'key-0d8e2b4f6a';

/** Every string in a value, with binary payloads (Temporal's history events) decoded as UTF-8. */
function historyText(v: unknown, out: string[] = []): string {
  if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
  else if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) historyText(x, out);
  else if (v && typeof v === 'object') {
    for (const k of Object.getOwnPropertyNames(v)) historyText((v as Record<string, unknown>)[k], out);
  }
  return out.join('\n');
}

describe('resolveSecrets', () => {
  const env = { MLPIPE_SECRET_API_TOKEN: TOKEN };

  it('replaces ${secrets.NAME} from MLPIPE_SECRET_NAME and reports what it used', () => {
    const r = resolveSecrets({ headers: { Authorization: 'Bearer ${secrets.API_TOKEN}' }, n: 1, l: ['${params.x}'] }, env, 'data');
    expect(r.value).toEqual({ headers: { Authorization: `Bearer ${TOKEN}` }, n: 1, l: ['${params.x}'] });
    expect(r.secrets).toEqual([TOKEN]);
  });

  it('an escaped $${secrets.NAME} stays literal text and is never resolved', () => {
    const r = resolveSecrets({ note: 'write $${secrets.API_TOKEN} in the spec', h: 'Bearer ${secrets.API_TOKEN}' }, env, 'data');
    expect(r.value).toEqual({ note: 'write ${secrets.API_TOKEN} in the spec', h: `Bearer ${TOKEN}` });
  });

  it('a missing secret is a non-retryable error naming the variable, not a value', () => {
    expect(() => resolveSecrets({ a: '${secrets.OTHER}' }, env, 'data')).toThrow(
      'stage "data" needs secret OTHER, but this worker has no MLPIPE_SECRET_OTHER in its environment',
    );
  });

  it('redacts values from text, errors (with causes) and leaves other text alone', () => {
    expect(redact(`GET https://x/?k=${TOKEN} failed`, [TOKEN])).toBe('GET https://x/?k=[redacted] failed');
    const err = new Error(`outer ${TOKEN}`, { cause: new Error(`inner ${TOKEN}`) });
    redactError(err, [TOKEN]);
    expect(err.message).toBe('outer [redacted]');
    expect((err.cause as Error).message).toBe('inner [redacted]');
  });
});

describe('secrets on the real dev server', () => {
  let env: TestEnv;
  let server: Server;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    process.env.MLPIPE_SECRET_DATA_TOKEN = TOKEN; // the in-process worker's environment
    process.env.MLPIPE_SECRET_DATA_KEY = KEY;
    server = createServer((req, res) => {
      if (req.url === '/data.csv' && req.headers.authorization === `Bearer ${TOKEN}`) {
        res.writeHead(200, { 'content-type': 'text/csv' }).end('a,b\n1,2\n3,4\n5,6\n');
      } else {
        res.writeHead(req.headers.authorization ? 403 : 401).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = await testEnv('secrets');
    dir = mkdtempSync(join(tmpdir(), 'mlpipe-secrets-'));
  });
  afterAll(async () => {
    await env?.close();
    server?.close();
  });

  const pipeline = (source: string) => `apiVersion: mlpipe/v1
metadata: { name: secret-data }
defaults: { taskQueue: ${env.queue}, retry: { maxAttempts: 1 } }
stages:
  data:
    type: collect
    source: ${source}
`;

  async function run(name: string, source: string) {
    writeFileSync(join(dir, name), pipeline(source));
    const { plan } = await compileFile(join(dir, name));
    expect(JSON.stringify(plan)).not.toContain(TOKEN);
    const handle = await env.start(plan, { noCache: true });
    const result = await handle.result().catch((e: unknown) => e);
    const history = historyText((await handle.fetchHistory()).events);
    expect(history).toContain('secret-data'); // the text really holds the decoded payloads
    return { result, history };
  }

  it('a stage authenticates with the token; the history holds only ${secrets.DATA_TOKEN}', async () => {
    const { result, history } = await run(
      'ok.yaml',
      `{ type: csv, url: "${base}/data.csv", headers: { Authorization: "Bearer \${secrets.DATA_TOKEN}" } }`,
    );
    expect((result as { stages: Record<string, { outputs: Record<string, unknown> }> }).stages.data!.outputs.rows).toBe(3);
    expect(history).toContain('${secrets.DATA_TOKEN}');
    expect(history).not.toContain(TOKEN);
  });

  it('an error that would quote the secret (a URL with it) reaches the history redacted', async () => {
    const { result, history } = await run('bad.yaml', `{ type: csv, url: "${base}/missing.csv?key=\${secrets.DATA_KEY}" }`);
    expect(result).toBeInstanceOf(WorkflowFailedError);
    expect(historyText(result)).not.toContain(KEY);
    expect(history).not.toContain(KEY);
    const decoded = JSON.stringify((result as WorkflowFailedError).cause);
    expect(decoded).toContain('[redacted]');
  });
});
