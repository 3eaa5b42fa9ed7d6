/**
 * Child process of test/artifacts/s3-store.test.ts: streams a generated artifact of
 * MLPIPE_RSS_MIB MiB into the S3 store named by MLPIPE_STORE and back out, then reads it whole,
 * and prints how far the resident set grew above its start in each phase (bytes, JSON).
 */
import { defaultStore } from '../../src/artifacts/index.ts';

const mib = Number(process.env.MLPIPE_RSS_MIB);
const store = defaultStore();
const lineage = { workflowId: 'rss/1', runId: 'r', pipeline: 'p', stage: 's', attempt: 1, planHash: 'h', inputs: {} };

let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage.rss()));
const timer = setInterval(sample, 10);

async function phase(fn: () => Promise<void>): Promise<number> {
  global.gc?.();
  const start = process.memoryUsage.rss();
  peak = start;
  await fn();
  sample();
  return peak - start;
}

const chunk = Buffer.alloc(1024 * 1024);
async function* generated() {
  for (let i = 0; i < mib; i++) {
    chunk.writeUInt32LE(i, 0); // every MiB differs; the buffer is reused, so the source holds 1 MiB
    yield chunk;
  }
}

let ref: Awaited<ReturnType<typeof store.putStream>> | undefined;
const put = await phase(async () => {
  ref = await store.putStream(generated(), { kind: 'dataset', lineage });
});
let streamed = 0;
const getStream = await phase(async () => {
  for await (const c of store.getStream(ref!)) streamed += c.byteLength;
});
let whole = 0;
const get = await phase(async () => {
  whole = (await store.get(ref!)).length;
});
clearInterval(timer);
process.stdout.write(JSON.stringify({ size: ref!.sizeBytes, streamed, whole, growth: { put, getStream, get } }) + '\n');
