/**
 * The child processes that run users' activities (user-child.ts), one execution per child at a
 * time. A process, not a worker thread, so that nothing a user's code does (a loop that never
 * yields, a promise that never settles, a native crash, running out of memory, process.exit)
 * can hold or take down the worker: killing the child always frees the stage's slot.
 *
 * A child costs about 0.3 s to start (Node, tsx and the module; a worker thread costs about
 * 0.2 s and contains less), so children are reused: one that finished an execution goes back to
 * the pool (or straight to an execution waiting for one), one stays warm, and others exit after a
 * minute unused. At most one child per CPU starts at a time. Idle children never keep the
 * worker's process alive, and they exit when it does (user-child.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FromChild } from './user-protocol.ts';

const CHILD = fileURLToPath(new URL('./user-child.ts', import.meta.url));
// The child runs TypeScript (ours and the user's module) through tsx's loader, as bin/mlpipe.js.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

/**
 * A child's output, written by the worker a line at a time: it goes through the worker's own
 * stdout and stderr, so the redaction of secrets there (src/redaction.ts) sees whole lines.
 */
function forwardLines(from: Readable, to: NodeJS.WriteStream, seen?: (text: string) => void): void {
  let partial = '';
  from.setEncoding('utf8');
  from.on('data', (text: string) => {
    seen?.(text);
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      partial += text;
      if (partial.length > 65_536) {
        to.write(partial); // no newline in sight: do not hold it all
        partial = '';
      }
      return;
    }
    to.write(partial + text.slice(0, end + 1));
    partial = text.slice(end + 1);
  });
  from.on('end', () => {
    if (partial) to.write(partial);
  });
}

export class UserChild {
  readonly proc: ChildProcess;
  /** The module's function names once it loaded; rejects with the reason it did not. */
  readonly ready: Promise<string[]>;
  private stderrTail = '';

  constructor(module: string, env: NodeJS.ProcessEnv) {
    this.proc = fork(CHILD, [module], {
      execArgv: ['--import', TSX_LOADER],
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env,
    });
    forwardLines(this.proc.stdout!, process.stdout);
    forwardLines(this.proc.stderr!, process.stderr, (text) => {
      this.stderrTail = (this.stderrTail + text).slice(-4096); // tells an out-of-memory death from others
    });
    this.ready = new Promise<string[]>((resolve, reject) => {
      const done = () => {
        this.proc.off('message', onMessage);
        this.proc.off('exit', onExit);
        this.proc.off('error', onError);
      };
      const onMessage = (m: FromChild) => {
        if (m.type === 'ready') resolve(m.names);
        else if (m.type === 'load-error') reject(new Error(m.message));
        else return;
        done();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        done();
        reject(new Error(`the user activities process ${describeExit(code, signal)} before it loaded ${module}`));
      };
      const onError = (e: Error) => {
        done();
        reject(new Error(`cannot start a process for user activities: ${e.message}`));
      };
      this.proc.on('message', onMessage);
      this.proc.on('exit', onExit);
      this.proc.on('error', onError);
    });
    this.ready.catch(() => this.kill());
    // A message to a child that just died fails on its channel; its 'exit' tells the execution.
    this.proc.on('error', () => undefined);
  }

  /** An idle child must not keep the worker's process alive; a busy one does, as any activity. */
  setIdle(idle: boolean): void {
    const handles = [this.proc, this.proc.channel, this.proc.stdout as Socket, this.proc.stderr as Socket];
    for (const h of handles) {
      if (idle) h?.unref();
      else h?.ref();
    }
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** V8 says so on stderr before it aborts. */
  get outOfMemory(): boolean {
    return /heap out of memory/i.test(this.stderrTail);
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

type Waiter = { resolve: (c: UserChild) => void; reject: (e: Error) => void };

export class UserActivityPool {
  private idle: { child: UserChild; timer?: NodeJS.Timeout }[] = [];
  private waiters: Waiter[] = [];
  private starting = 0;

  /**
   * `env`: set in children on top of the worker's environment. `maxStarting`: children starting
   * at once; a burst of executions (a wide fan-out) waits for those or for a child another
   * execution frees, instead of starting a process each and starving the machine.
   */
  constructor(
    readonly module: string,
    private readonly env: NodeJS.ProcessEnv = {},
    private readonly o: { idleMs?: number; maxStarting?: number } = {},
  ) {}

  /** Starts the first child: the module's function names, or the reason it does not load. */
  async start(): Promise<string[]> {
    const child = this.spawn();
    const names = await child.ready;
    this.release(child);
    return names;
  }

  /** A child ready to run an execution: an idle one, else the next one started or freed. */
  acquire(signal?: AbortSignal): Promise<UserChild> {
    for (let e = this.idle.pop(); e; e = this.idle.pop()) {
      clearTimeout(e.timer);
      if (e.child.exited) continue;
      e.child.setIdle(false);
      return Promise.resolve(e.child);
    }
    return new Promise<UserChild>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (c) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(c);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.startMore();
    });
  }

  /** Back to the pool after a clean execution (to a waiting execution first). */
  release(child: UserChild): void {
    if (child.exited) return;
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve(child);
    child.setIdle(true);
    const entry: { child: UserChild; timer?: NodeJS.Timeout } = { child };
    if (this.idle.length > 0) {
      entry.timer = setTimeout(() => this.expire(entry), this.o.idleMs ?? 60_000).unref();
    }
    this.idle.push(entry);
  }

  /** Starts children for the waiters that no starting child will serve, up to maxStarting. */
  private startMore(): void {
    const max = this.o.maxStarting ?? Math.max(1, availableParallelism());
    while (this.waiters.length > this.starting && this.starting < max) {
      this.starting++;
      const child = this.spawn();
      child.ready.then(
        () => {
          this.starting--;
          this.release(child);
          this.startMore();
        },
        (e: Error) => {
          this.starting--;
          this.waiters.shift()?.reject(e);
          this.startMore();
        },
      );
    }
  }

  private expire(entry: { child: UserChild }): void {
    if (this.idle.length <= 1) return; // the last one stays warm
    this.idle = this.idle.filter((e) => e !== entry);
    entry.child.kill();
  }

  private spawn(): UserChild {
    return new UserChild(this.module, { ...process.env, ...this.env });
  }
}
