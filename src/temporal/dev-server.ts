import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from './cli-binary.ts';
import { searchAttributeFlags } from './search-attributes.ts';

export interface DevServerOptions {
  /** SQLite file; runs survive a restart when the same file is used again. */
  dbFile: string;
  /** gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default 8233); `null` runs headless. */
  uiPort?: number | null;
  ip?: string;
  namespace?: string;
  /** Where the server's output goes (default: `<dir of dbFile>/temporal-server.log`). */
  logFile?: string;
  /** How long to wait for the frontend to answer (default 60 s). */
  readyTimeoutMs?: number;
  executable?: string;
  /**
   * The address it listens on when not `ip` (clients still dial `ip`): `0.0.0.0` inside a network
   * namespace of its own, where the server's internal services dial each other on 127.0.0.1.
   */
  bind?: string;
  /** A command the server runs under, e.g. `['ip', 'netns', 'exec', 'host-a']` (a network namespace). */
  wrap?: string[];
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the server process exits (for any reason). */
  exited: Promise<number | null>;
}

/** Is a Temporal frontend answering at `address`? */
export async function isServing(address: string, timeoutMs = 1500): Promise<boolean> {
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    await conn.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await conn?.close().catch(() => undefined);
  }
}

/** Starts `temporal server start-dev` with mlpipe's search attributes and waits until it serves. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const address = `${ip}:${port}`;
  if (await isServing(address)) {
    throw new Error(`a Temporal server already answers at ${address}; stop it or pick another --port`);
  }
  const exe = opts.executable ?? findTemporalCli();
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  const logFile = opts.logFile ?? join(dirname(opts.dbFile), `temporal-server-${port}.log`);
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    opts.dbFile,
    '--ip',
    opts.bind ?? ip,
    '--port',
    String(port),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
    ...searchAttributeFlags(),
  ];
  if (opts.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort ?? 8233), '--ui-ip', ip);
  const fd = openSync(logFile, 'a');
  const [cmd, ...argv] = [...(opts.wrap ?? []), exe, ...args];
  const child = spawn(cmd!, argv, { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!(await isServing(address))) {
    if (gone) throw new Error(`temporal server exited during start-up; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server did not answer at ${address} in time; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    uiUrl: opts.uiPort === null ? undefined : `http://${ip}:${opts.uiPort ?? 8233}`,
    process: child,
    logFile,
    exited,
    async stop(graceMs = 10_000) {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
