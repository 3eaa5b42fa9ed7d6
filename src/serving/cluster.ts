// `mlpipe serve --workers N`: N processes serving one port (node:cluster; the primary accepts the
// connections and hands them to the workers in turn). Each worker is a whole ModelServer that
// follows the registry on its own, so a deploy or rollback reaches every worker within a poll.
// The primary serves nothing itself: it starts the workers (and starts a worker again if one
// dies), gathers their readiness and their Prometheus metrics, advertises the server in
// `<registry>/_server.json` once every worker listens, and on SIGTERM/SIGINT tells every worker
// to drain (finish the requests in flight) before it exits.
//
// Messages (primary ⇄ worker, over the cluster's IPC channel), all tagged `mlpipe`:
//   worker → primary  {mlpipe: 'ready', ready, reasons, url}   after each change of its readiness
//   primary → worker  {mlpipe: 'cluster', workers: {id: reasons[]}, expected}   everyone's state
//   worker → primary  {mlpipe: 'metrics', id}  →  {mlpipe: 'metrics', id, text | error}
//   primary → worker  {mlpipe: 'stop'}
import cluster, { type Worker } from 'node:cluster';
import { mkdirSync, rmSync } from 'node:fs';
import { AggregatorRegistry } from 'prom-client';
import writeFileAtomic from 'write-file-atomic';
import type { Registry } from './registry.ts';
import { ModelServer, serverFile, type ServerOptions } from './server.ts';

type Message =
  | { mlpipe: 'ready'; ready: boolean; reasons: string[]; url: string }
  | { mlpipe: 'cluster'; workers: Record<string, string[]>; expected: number }
  | { mlpipe: 'metrics'; id: number; text?: string; error?: string }
  | { mlpipe: 'stop' };

const isMessage = (m: unknown): m is Message => !!m && typeof m === 'object' && typeof (m as { mlpipe?: unknown }).mlpipe === 'string';

export const isClusterWorker = (): boolean => cluster.isWorker;

/**
 * In the primary: starts `workers` copies of this very command (cluster.fork re-runs process.argv)
 * and resolves with the shared URL once every one listens. `stop()` drains them all.
 */
export async function startPrimary(o: {
  workers: number;
  registry: Registry;
  auth: boolean;
  graceMs?: number;
  log: (l: string) => void;
}): Promise<{ url: string; stop: () => Promise<void> }> {
  const state = new Map<number, { ready: boolean; reasons: string[]; url?: string }>();
  // Slots 1…N: a worker that dies is replaced in its slot, so readiness names stable numbers.
  const slots = new Map<number, Worker>();
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let advertised = '';
  let listening: (url: string) => void;
  const allListening = new Promise<string>((r) => (listening = r));

  const broadcast = () => {
    const workers: Record<string, string[]> = {};
    for (const slot of slots.keys()) {
      const s = state.get(slot);
      workers[slot] = !s ? ['starting'] : s.reasons;
    }
    const m: Message = { mlpipe: 'cluster', workers, expected: o.workers };
    for (const w of slots.values()) if (w.isConnected()) w.send(m);
  };

  const fork = (slot: number) => {
    const w = cluster.fork({ MLPIPE_SERVE_WORKER: String(slot) });
    slots.set(slot, w);
    state.delete(slot);
    w.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.mlpipe === 'ready') {
        state.set(slot, { ready: m.ready, reasons: m.reasons, url: m.url });
        broadcast();
        const urls = [...slots.keys()].map((k) => state.get(k)?.url);
        if (!advertised && urls.every((u) => u)) listening(urls[0]!);
      } else if (m.mlpipe === 'metrics') {
        aggregator.clusterMetrics().then(
          (text) => w.isConnected() && w.send({ mlpipe: 'metrics', id: m.id, text } satisfies Message),
          (e: Error) => w.isConnected() && w.send({ mlpipe: 'metrics', id: m.id, error: e.message } satisfies Message),
        );
      }
    });
    w.on('exit', (code, signal) => {
      if (slots.get(slot) !== w) return;
      state.delete(slot);
      if (stopping) return;
      o.log(`worker ${slot} (pid ${w.process.pid}) exited (${signal ?? `code ${code}`}); starting it again`);
      fork(slot);
      broadcast();
    });
  };
  for (let slot = 1; slot <= o.workers; slot++) fork(slot);

  advertised = await allListening;
  mkdirSync(o.registry.dir, { recursive: true });
  writeFileAtomic.sync(
    serverFile(o.registry),
    JSON.stringify({ url: advertised, pid: process.pid, startedAt: new Date().toISOString(), auth: o.auth, workers: o.workers }),
  );

  const stop = async () => {
    stopping = true;
    const exits = [...slots.values()].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of slots.values()) if (w.isConnected()) w.send({ mlpipe: 'stop' } satisfies Message);
    // A worker drains within its own grace; one that hangs past it (and a margin) is killed.
    const kill = setTimeout(
      () => {
        for (const w of slots.values()) if (!w.isDead()) w.process.kill('SIGKILL');
      },
      (o.graceMs ?? 10_000) + 5_000,
    );
    await Promise.all(exits);
    clearTimeout(kill);
    rmSync(serverFile(o.registry), { force: true });
  };
  return { url: advertised, stop };
}

/**
 * In a worker: one ModelServer on the shared port whose readiness includes the other workers' and
 * whose /metrics are everyone's. Resolves when the primary (or a signal) has stopped it.
 */
export async function runWorker(options: ServerOptions): Promise<void> {
  const id = Number(process.env.MLPIPE_SERVE_WORKER);
  let others: Record<string, string[]> = {};
  let last = '';
  let nextId = 0;
  const pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  const server: ModelServer = new ModelServer({
    ...options,
    advertise: false,
    cluster: {
      id,
      reasons: () =>
        Object.entries(others)
          .filter(([k, r]) => Number(k) !== id && r.length)
          .map(([k, r]) => `worker ${k}: ${r.join('; ')}`),
      metrics: () =>
        // Without the primary (it died), this worker's own metrics are all there is.
        !process.connected
          ? server.prom.text()
          : new Promise<string>((resolve, reject) => {
              const n = nextId++;
              pending.set(n, { resolve, reject });
              process.send!({ mlpipe: 'metrics', id: n } satisfies Message);
            }),
      readiness: (r) => {
        const key = JSON.stringify(r);
        if (key === last || !server.url) return;
        last = key;
        if (process.connected) process.send!({ mlpipe: 'ready', ...r, url: server.url } satisfies Message);
      },
    },
  });
  // The primary's AggregatorRegistry asks each worker for this registry's metrics.
  AggregatorRegistry.setRegistries([server.prom.registry]);
  new AggregatorRegistry();
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    // Once, whoever asks first (the primary, a signal, the primary going away).
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void server.stop().then(resolve);
    };
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.mlpipe === 'cluster') others = m.workers;
      else if (m.mlpipe === 'stop') stop();
      else if (m.mlpipe === 'metrics') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.text !== undefined) p?.resolve(m.text);
        else p?.reject(new Error(`cannot gather the workers' metrics: ${m.error}`));
      }
    });
    // Ctrl-C reaches the whole process group: drain like on the primary's word.
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // The primary is gone: nobody will hand this worker connections any more.
    process.once('disconnect', stop);
  });
  await server.start();
  await done;
  // Drained and unloaded: the IPC channel would keep this process alive.
  process.exit(0);
}
