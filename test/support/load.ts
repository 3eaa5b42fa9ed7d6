// Drives test/serving/fixtures/load-client.ts: a bounded autocannon load from a second process,
// whose events (first answer of each version, progress, the final counts) the test waits on.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const client = fileURLToPath(new URL('../serving/fixtures/load-client.ts', import.meta.url));

export interface LoadDone {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  resets: number;
  answered: number;
  versions: Record<string, { count: number; first: number; last: number }>;
  tail: string[];
}

export function startLoad(url: string, path: string, body: unknown, o: { connections?: number; rate?: number } = {}) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', client, url, path, JSON.stringify(body), String(o.connections ?? 8), String(o.rate ?? 300)],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const events: Record<string, any>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
  const answered = () => events.filter((e) => e.event === 'progress').reduce((n, e) => Math.max(n, e.n as number), 0);
  return {
    /** Answers so far, counted in hundreds. */
    answered,
    /** Waits until a version has answered at least once. */
    sawVersion: (version: string) =>
      waitFor(() => events.some((e) => e.event === 'version' && e.version === version), 120_000, `an answer from ${version}`, 50),
    /** Waits for `n` more answers than now. */
    more: async (n: number) => {
      const from = answered();
      await waitFor(() => answered() >= from + n || child.exitCode !== null, 120_000, `${n} more answers`, 50);
    },
    stop: async (): Promise<LoadDone> => {
      child.stdin!.end('stop\n');
      await waitFor(() => events.some((e) => e.event === 'done') || child.exitCode !== null, 60_000, 'the load client to finish', 50);
      const done = events.find((e) => e.event === 'done');
      if (!done) throw new Error(`the load client exited (${child.exitCode}) without its counts`);
      return done as unknown as LoadDone;
    },
    kill: () => child.kill(),
  };
}
