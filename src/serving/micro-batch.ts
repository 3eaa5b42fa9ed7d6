// Micro-batching: requests for one served version that arrive together are scored in one pass of
// the model. On the native backend every pass costs a fixed overhead (a tensor in, a TensorFlow
// call, a tensor out) that is much larger than the arithmetic of a few rows, so under load one
// pass for 64 requests answers far more of them per second than 64 passes.
//
// When a batch is scored: as soon as no other predict request is still being received (nothing
// more is coming, so waiting would only add latency: one client alone never waits), when the
// batch would pass `maxBatch` rows, or at the latest `maxWaitMs` after its first request (requests
// whose bodies are still arriving are not waited for beyond that). A request with more rows than
// `maxBatch` is scored alone, never split. Each caller gets exactly its own rows back.
import type { RowResult } from './signature.ts';

export interface BatchOptions {
  /** Rows per pass at most (default 256); 1 scores every request alone. */
  maxBatch: number;
  /** The longest the first request of a batch waits for others (ms, default 2). */
  maxWaitMs: number;
}

export const DEFAULT_BATCH: BatchOptions = { maxBatch: 256, maxWaitMs: 2 };

export interface Features {
  data: Float32Array;
  /** [rows, …featureShape] */
  shape: number[];
}

interface Waiting {
  x: Features;
  resolve: (r: RowResult[]) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher {
  private queue: Waiting[] = [];
  private rows = 0;
  private timer?: NodeJS.Timeout;
  private soon?: NodeJS.Immediate;

  constructor(
    /** One pass of the model over the concatenated rows. */
    private readonly score: (x: Features) => RowResult[],
    private readonly o: BatchOptions,
    /** Whether another predict request is being received now (its body still arriving). */
    private readonly othersArriving: () => boolean,
    /** After each pass: how many requests and rows it scored (metrics). */
    private readonly onBatch: (requests: number, rows: number) => void = () => {},
  ) {}

  /** The answers for `x`'s rows, in order, once its batch has been scored. */
  submit(x: Features): Promise<RowResult[]> {
    const n = x.shape[0]!;
    if (this.queue.length && this.rows + n > this.o.maxBatch) this.flush();
    const p = new Promise<RowResult[]>((resolve, reject) => this.queue.push({ x, resolve, reject }));
    this.rows += n;
    if (this.rows >= this.o.maxBatch) this.flush();
    else this.schedule();
    return p;
  }

  /** Called when a request that was being received has been submitted or has failed. */
  arrived(): void {
    if (this.queue.length && !this.othersArriving()) this.schedule();
  }

  /** Score what is queued now (also before the version is unloaded: nothing is left waiting). */
  flush(): void {
    clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.timer = this.soon = undefined;
    const batch = this.queue;
    if (!batch.length) return;
    this.queue = [];
    this.rows = 0;
    let out: RowResult[];
    try {
      out = this.score(concat(batch.map((w) => w.x)));
    } catch (e) {
      for (const w of batch) w.reject(e);
      return;
    }
    this.onBatch(batch.length, out.length);
    let at = 0;
    for (const w of batch) {
      const n = w.x.shape[0]!;
      w.resolve(out.slice(at, at + n));
      at += n;
    }
  }

  private schedule(): void {
    if (this.o.maxWaitMs <= 0 || !this.othersArriving()) {
      // Next turn of the event loop: requests read in this same turn still join the batch.
      this.soon ??= setImmediate(() => this.flush());
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.o.maxWaitMs);
  }
}

function concat(xs: Features[]): Features {
  if (xs.length === 1) return xs[0]!;
  const rows = xs.reduce((a, x) => a + x.shape[0]!, 0);
  const data = new Float32Array(xs.reduce((a, x) => a + x.data.length, 0));
  let at = 0;
  for (const x of xs) {
    data.set(x.data, at);
    at += x.data.length;
  }
  return { data, shape: [rows, ...xs[0]!.shape.slice(1)] };
}
