// The part of autocannon 9's API that the serving bench (bench/serving.ts) and the hot-swap load
// client (test/serving/fixtures/load-client.ts) use: autocannon ships no types.
declare module 'autocannon' {
  interface Histogram {
    average: number;
    mean: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }
  interface Options {
    url: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    amount?: number;
    overallRate?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    requests?: Request[];
  }
  interface Result {
    requests: Histogram & { total: number; sent: number };
    latency: Histogram & { p2_5: number; p97_5: number; p99_9: number };
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    mismatches: number;
    '2xx': number;
    duration: number;
  }
  interface Instance {
    stop(): void;
    on(event: 'done', f: (r: Result) => void): void;
  }
  function autocannon(o: Options): Instance & PromiseLike<Result>;
  function autocannon(o: Options, cb: (err: Error | null, r: Result) => void): Instance;
  export default autocannon;
}
