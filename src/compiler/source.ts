/** Where a spec came from in git: recorded on runs and schedules, never required. */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';

export interface SourceInfo {
  file: string;
  gitSha?: string;
  /** The working tree had uncommitted changes (the run may not match the commit). */
  gitDirty?: boolean;
  gitBranch?: string;
  /** `origin`'s URL with any credentials removed. */
  gitRemote?: string;
  /** The spec's directory relative to the git work tree's top ('' at the top, else 'a/b'). */
  repoDir?: string;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Drops user:password@ from URLs; scp-like `git@host:path` has no secret and stays. */
export function stripCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

export function sourceInfo(file: string): SourceInfo {
  const abs = resolve(file);
  const dir = dirname(abs);
  const prefix = git(dir, ['rev-parse', '--show-prefix']);
  const repoDir = prefix !== undefined ? { repoDir: prefix.replace(/\/$/, '') } : {};
  const sha = git(dir, ['rev-parse', 'HEAD']);
  if (!sha) return { file: abs, ...repoDir };
  const remote = git(dir, ['remote', 'get-url', 'origin']);
  const branch = git(dir, ['rev-parse', '--abbrev-ref', 'HEAD']);
  return {
    file: abs,
    gitSha: sha,
    gitDirty: (git(dir, ['status', '--porcelain']) ?? '') !== '',
    ...(branch && branch !== 'HEAD' ? { gitBranch: branch } : {}),
    ...(remote ? { gitRemote: stripCredentials(remote) } : {}),
    ...repoDir,
  };
}
