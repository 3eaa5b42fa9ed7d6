// Finding (and, in local mode, starting) the model server a deploy points at. A running
// `mlpipe serve` advertises itself in `<registry>/_server.json`; a deploy that finds none may start
// one as a detached process, so the server outlives the activity (and the worker) that started it.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalToken, TOKEN_FILE_ENV } from './auth.ts';
import type { Registry } from './registry.ts';
import { serverFile } from './server.ts';

export interface ServerInfo {
  url: string;
  pid: number;
  startedAt: string;
  /** Whether it has an auth token (feedback and the request log on). */
  auth?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The advertised server, if its process is still running. */
export function findServer(registry: Registry): ServerInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(serverFile(registry), 'utf8')) as ServerInfo;
    return typeof info.url === 'string' && alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `mlpipe serve` detached (its own process group, output to `<home>/serving/serve.log`)
 * and waits up to `timeoutMs` for it to advertise itself. Its auth token: MLPIPE_SERVE_AUTH_TOKEN_FILE's
 * when set (the child inherits it), else `<registry>/_auth-token`, so monitor can read its request log.
 */
export async function startDetachedServer(
  registry: Registry,
  o: { home: string; host?: string; port?: number; timeoutMs?: number },
): Promise<ServerInfo> {
  const logDir = join(o.home, 'serving');
  mkdirSync(logDir, { recursive: true });
  const out = openSync(join(logDir, 'serve.log'), 'a');
  const bin = fileURLToPath(new URL('../../bin/mlpipe.js', import.meta.url));
  const args = [bin, 'serve', '--host', o.host ?? '127.0.0.1', '--port', String(o.port ?? 0)];
  if (!process.env[TOKEN_FILE_ENV]) args.push('--auth-token-file', ensureLocalToken(registry.dir));
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, MLPIPE_HOME: o.home },
  });
  child.unref();
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    const info = findServer(registry);
    if (info && info.pid === child.pid) return info;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the model server did not start; see ${join(logDir, 'serve.log')}`);
}
