// Spec paths must stay inside their root: no `..`, no absolute paths, no symlink that leads out.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export class PathEscapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathEscapeError';
  }
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolve `rel` against `root`; throw PathEscapeError when the result (after following symlinks,
 * if it exists) lies outside the root (also resolved through symlinks).
 */
export function resolveInside(root: string, rel: string): string {
  if (rel.includes('\0')) throw new PathEscapeError(`path ${JSON.stringify(rel)} contains a NUL byte`);
  const absRoot = resolve(root);
  const target = resolve(absRoot, rel);
  if (!inside(absRoot, target)) {
    throw new PathEscapeError(`path ${JSON.stringify(rel)} leaves its root ${absRoot}; use a path inside that directory`);
  }
  let realRoot: string;
  try {
    realRoot = realpathSync(absRoot);
  } catch {
    return target; // the root does not exist yet; nothing to follow
  }
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    return target; // not there (the caller reports it); nothing to follow
  }
  if (!inside(realRoot, real)) {
    throw new PathEscapeError(`path ${JSON.stringify(rel)} resolves through a symlink to ${real}, outside its root ${realRoot}`);
  }
  return real;
}
