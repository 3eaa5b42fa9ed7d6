// The model server's bearer token. Feedback (`labels`, which can roll a canary back) and the
// request log (raw rows) are served only with it; a server without a token keeps them off. The
// token lives in a file (`mlpipe serve --auth-token-file`, or MLPIPE_SERVE_AUTH_TOKEN_FILE), never
// on a command line or in a log. A server that deploy starts in local mode gets
// `<registry>/_auth-token` (created 0600), which monitor, reading the same registry, finds.
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const TOKEN_FILE_ENV = 'MLPIPE_SERVE_AUTH_TOKEN_FILE';

/** The token a local-mode server is started with, beside the registry it serves. */
export function localTokenFile(registryDir: string): string {
  return join(registryDir, '_auth-token');
}

export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the auth token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const token = text.trim();
  if (token.length < 16)
    throw new Error(
      `the auth token in ${file} is ${token ? 'shorter than 16 characters' : 'empty'}; put a long random ` +
        `token there (e.g. \`openssl rand -hex 32 > ${file}\`)`,
    );
  return token;
}

/** `<registry>/_auth-token`, created with a random token (owner-only) if it does not exist. */
export function ensureLocalToken(registryDir: string): string {
  const file = localTokenFile(registryDir);
  mkdirSync(registryDir, { recursive: true });
  try {
    const fd = openSync(file, 'wx', 0o600); // two deploys at once: one creates, the other reads
    try {
      writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return file;
}

/** The token a client of the server (monitor) sends: MLPIPE_SERVE_AUTH_TOKEN_FILE's, else the local one. */
export function clientToken(registryDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env[TOKEN_FILE_ENV] || localTokenFile(registryDir);
  return env[TOKEN_FILE_ENV] || existsSync(file) ? readTokenFile(file) : undefined;
}

/** Whether an `Authorization` header carries `token`, compared in constant time. */
export function bearerMatches(token: string, header: string | undefined): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  // Digests have equal lengths, so the comparison time says nothing about the token's length either.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && !!m;
}
