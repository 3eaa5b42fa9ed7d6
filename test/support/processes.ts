/** Worker child processes (`mlpipe worker`) for tests that kill them, and polling. */
import { spawn, type ChildProcess } from 'node:child_process';

export type WorkerProcess = ChildProcess & { output: () => string };

/**
 * `mlpipe worker` on `queue` as a child process; `activities` adds a user-activity module, `o`
 * more settings in its environment and the directory it runs in (default this process's).
 */
export function spawnWorker(
  address: string,
  queue: string,
  home: string,
  activities?: string,
  extraArgs: string[] = [],
  o: { env?: Record<string, string>; cwd?: string } = {},
): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      'bin/mlpipe.js',
      'worker',
      '--address',
      address,
      '--task-queue',
      queue,
      '--no-gpu-queue',
      '--shutdown-grace',
      '1s',
      ...(activities ? ['--activities', activities] : []),
      ...extraArgs,
    ],
    { env: { ...process.env, ...o.env, MLPIPE_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'], ...(o.cwd ? { cwd: o.cwd } : {}) },
  ) as WorkerProcess;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.output = () => out;
  return child;
}

export async function waitFor(check: () => boolean | Promise<boolean>, ms = 60_000, what = 'condition', everyMs = 200): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
