/**
 * Credentials pasted into a spec: a sensitive HTTP header or URL query parameter must take its
 * value from `${secrets.NAME}` (resolved on the worker, activities/lib/secrets.ts), never from
 * text in the file or a param: those are kept in git, in the compiled plan and in Temporal's
 * workflow history. Diagnostics name the field and the header or parameter, never the value
 * (they are printed to CI logs).
 *
 * Where a spec carries them: a file collect source's (csv, json, ndjson, parquet, arrow) `url` and `headers`, a monitor's
 * `onBreach.webhook`, and inside an activity stage's free-form `input` every string that starts
 * with http(s):// and every map under a key named `headers`.
 */
import { findTemplates, readsSecrets, references, type TemplatePart } from '../core/expr.ts';
import type { Reporter } from './semantic.ts';
import { where } from './schema.ts';
import type { Pipeline } from './types.gen.ts';

type Path = (string | number)[];

export const LITERAL_SECRET = 'security.literal-secret';

const SENSITIVE_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'x-auth-token',
]);
const SENSITIVE_HEADER_PARTS = ['token', 'secret', 'password', 'passwd', 'apikey', 'api-key', 'api_key', 'auth', 'credential', 'session'];

/** Header names (case-insensitive) whose value is a credential. */
export function isSensitiveHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SENSITIVE_HEADERS.has(n) || SENSITIVE_HEADER_PARTS.some((p) => n.includes(p));
}

const SENSITIVE_QUERY = new Set([
  'token',
  'access_token',
  'auth',
  'api_key',
  'apikey',
  'key',
  'secret',
  'password',
  'passwd',
  'sig',
  'signature',
  'x-amz-signature',
  'x-goog-signature',
  'client_secret',
]);

/** Query parameter names (case-insensitive, percent-decoded) whose value is a credential. */
export function isSensitiveQueryParam(name: string): boolean {
  return SENSITIVE_QUERY.has(name.toLowerCase());
}

/** Authentication scheme words that may stand before the secret in a header (case-insensitive). */
const SCHEMES = [
  'Basic',
  'Bearer',
  'Token',
  'Digest',
  'Negotiate',
  'NTLM',
  'OAuth',
  'DPoP',
  'ApiKey',
  'Api-Key',
  'Key',
  'Bot',
  'SSWS',
  'Splunk',
  'GenieKey',
];

// A string with its `${…}` parts replaced by markers: U+0001 <index> U+0002 (neither can be in a
// YAML scalar a person writes; `$${` stays as written, it is literal text).
const OPEN = '\u0001';
const CLOSE = '\u0002';
const MARK = new RegExp(`${OPEN}(\\d+)${CLOSE}`, 'g');

interface Skeleton {
  text: string;
  parts: TemplatePart[];
}

function skeleton(s: string): Skeleton | null {
  let parts: TemplatePart[];
  try {
    parts = findTemplates(s);
  } catch {
    return null; // an unclosed `${` is reported as expr.syntax
  }
  let text = '';
  let last = 0;
  parts.forEach((p, i) => {
    text += s.slice(last, p.start) + OPEN + i + CLOSE;
    last = p.end;
  });
  return { text: text + s.slice(last), parts };
}

const isSecretPart = (sk: Skeleton, index: string) => readsSecrets(sk.parts[Number(index)]!.expr);

/** A header value made of `${secrets.*}` references, after an optional scheme word; empty is fine too. */
const HEADER_FORM = new RegExp(`^\\s*(?:(?:${SCHEMES.join('|')})\\s*)?(?:${OPEN}(\\d+)${CLOSE}\\s*)+$`, 'i');

function headerValueOk(s: string): boolean {
  if (s.trim() === '') return true;
  const sk = skeleton(s);
  if (!sk) return true;
  if (!HEADER_FORM.test(sk.text)) return false;
  return [...sk.text.matchAll(MARK)].every((m) => isSecretPart(sk, m[1]!));
}

/** The query of a URL skeleton as [name, value skeleton] pairs (before any `#`). */
function queryPairs(sk: Skeleton): [string, string][] {
  const q = sk.text.indexOf('?');
  if (q === -1) return [];
  const hash = sk.text.indexOf('#', q);
  const query = sk.text.slice(q + 1, hash === -1 ? undefined : hash);
  return query
    .split('&')
    .filter((x) => x !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replaceAll('+', ' '));
      } catch {
        // a malformed escape: compare the name as written
      }
      return [name, eq === -1 ? '' : pair.slice(eq + 1)];
    });
}

/** Sensitive query parameters of `url` whose value is not empty and not exactly one `${secrets.NAME}`. */
function badQueryParams(url: string): string[] {
  const sk = skeleton(url);
  if (!sk) return [];
  const bad: string[] = [];
  for (const [name, value] of queryPairs(sk)) {
    if (!isSensitiveQueryParam(name) || value === '') continue;
    const m = new RegExp(`^${OPEN}(\\d+)${CLOSE}$`).exec(value);
    if (m && isSecretPart(sk, m[1]!)) continue;
    if (!bad.includes(name)) bad.push(name);
  }
  return bad;
}

/** The value of query parameter `name` in the URL as written, as a skeleton plus its parts. */
function rawQueryValue(raw: string, name: string): { value: string; sk: Skeleton } | undefined {
  const sk = skeleton(raw);
  if (!sk) return undefined;
  const pair = queryPairs(sk).find(([n]) => n === name);
  return pair ? { value: pair[1], sk } : undefined;
}

/**
 * Where a rejected value comes from, as written in the file: the first param or stage output it
 * reads (outside `${secrets.*}`), or undefined when it is text in the file. Only reference paths
 * are returned, never an expression (which could hold a literal).
 */
function origin(text: string, sk: Skeleton | null): string | undefined {
  if (!sk) return undefined;
  for (const m of text.matchAll(MARK)) {
    const part = sk.parts[Number(m[1])]!;
    if (readsSecrets(part.expr)) continue;
    let refs: string[][];
    try {
      refs = references(part.expr);
    } catch {
      continue;
    }
    const ref = refs.find((r) => r[0] === 'params' || r[0] === 'stages');
    if (ref) return ref.join('.');
  }
  return undefined;
}

function at(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

const KEPT = 'it would be kept in git, in the compiled plan and in the workflow history';
const SET_ON_WORKERS = 'and set MLPIPE_SECRET_NAME in the environment of the workers that run the stage';

function describeOrigin(from: string | undefined): string {
  if (from === undefined) return `is written in the file, not taken from a secret; ${KEPT}`;
  if (from.startsWith('params.'))
    return `takes its value from \`${from}\`, not from a secret; params are kept in the compiled plan and the workflow history`;
  return `takes its value from \`${from}\`, not from a secret; stage outputs are kept in the workflow history`;
}

/** `headers` at `path` (a map of header name to value): sensitive ones must come from secrets. */
function checkHeaders(r: Reporter, raw: unknown, headers: unknown, path: Path): void {
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string' || !isSensitiveHeader(name)) continue;
    const written = at(raw, [...path, name]);
    const writtenText = typeof written === 'string' ? written : value;
    if (headerValueOk(value) && headerValueOk(writtenText)) continue;
    const sk = skeleton(writtenText);
    r.error(
      [...path, name],
      LITERAL_SECRET,
      `${where(path.map(String))}: header \`${name}\` ${describeOrigin(origin(sk?.text ?? '', sk))}`,
      'store the credential as a secret: write `${secrets.NAME}` as the value, after the scheme word if ' +
        'there is one (`Bearer ${secrets.NAME}`), ' +
        SET_ON_WORKERS,
    );
  }
}

/** A URL at `path`: sensitive query parameters must be exactly `${secrets.NAME}`. */
function checkUrl(r: Reporter, raw: unknown, url: unknown, path: Path): void {
  if (typeof url !== 'string') return;
  const written = at(raw, path);
  const writtenText = typeof written === 'string' ? written : url;
  const names = [...badQueryParams(url)];
  for (const n of badQueryParams(writtenText)) if (!names.includes(n)) names.push(n);
  for (const name of names) {
    const q = rawQueryValue(writtenText, name);
    const sk = q ? q.sk : skeleton(writtenText);
    const from = origin(q ? q.value : (sk?.text ?? ''), sk);
    r.error(
      path,
      LITERAL_SECRET,
      `${where(path.map(String))}: query parameter \`${name}\` ${describeOrigin(from)}`,
      `store the credential as a secret: write \`${name}=\${secrets.NAME}\` in the URL ${SET_ON_WORKERS}`,
    );
  }
}

/** An activity's free-form input: URLs anywhere, header maps under a `headers` key. */
function checkActivityInput(r: Reporter, raw: unknown, v: unknown, path: Path): void {
  if (typeof v === 'string') {
    if (/^https?:\/\//i.test(v)) checkUrl(r, raw, v, path);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => checkActivityInput(r, raw, x, [...path, i]));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.toLowerCase() === 'headers') checkHeaders(r, raw, x, [...path, k]);
      checkActivityInput(r, raw, x, [...path, k]);
    }
  }
}

/**
 * Reports every sensitive header or query parameter of `p` (params substituted) that is not
 * taken from `${secrets.NAME}`. `raw` is the document as written (before params are
 * substituted): a value that reads a param is refused even when the param's current value is.
 */
export function checkLiteralSecrets(r: Reporter, raw: unknown, p: Pipeline): void {
  for (const [name, stage] of Object.entries(p.stages)) {
    const base: Path = ['stages', name];
    if (stage.type === 'collect') {
      const src = stage.source as { url?: unknown; headers?: unknown };
      checkUrl(r, raw, src.url, [...base, 'source', 'url']);
      checkHeaders(r, raw, src.headers, [...base, 'source', 'headers']); // with a `path` too: the text is in the file all the same
    }
    if (stage.type === 'monitor') checkUrl(r, raw, stage.onBreach?.webhook, [...base, 'onBreach', 'webhook']);
    if (stage.type === 'activity' && stage.input !== undefined) checkActivityInput(r, raw, stage.input, [...base, 'input']);
  }
}

const MASK = '***';
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/:@"']+):([^\s/@"']+)@/gi;
const QUERY_PARAM = /([?&])([^=&#\s"']+)=([^&#\s"']*)/g;
const KEY_VALUE = /(["']?)([A-Za-z0-9_-]+)\1(\s*:[ \t]*)("([^"]*)"|'([^']*)'|([^\s,{}[\]#"'`]+(?:[ \t]+[^\s,{}[\]#"'`]+)*))/g;

/**
 * `text` with credential-looking values replaced by `***`: passwords in URLs, sensitive query
 * parameters and, in YAML source lines (`yaml: true`), sensitive `key: value` pairs
 * (header-like names), unless the value is a `${secrets.*}` reference. A safety net for
 * anything that echoes spec text (diagnostic messages, the source lines the CLI prints),
 * whatever rule reported it. (Prose is not masked by key: "Unexpected token: EOF" stays.)
 */
export function maskCredentials(text: string, opts: { yaml?: boolean } = {}): string {
  const isRef = (v: string) => /^\s*(\w+\s+)?\$\{\s*secrets\.[^}]*\}\s*$/.test(v);
  return text
    .replace(URL_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
    .replace(QUERY_PARAM, (m, sep: string, name: string, value: string) => {
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return value && isSensitiveQueryParam(decoded) && !isRef(value) ? `${sep}${name}=${MASK}` : m;
    })
    .replace(
      opts.yaml ? KEY_VALUE : /(?!)/g,
      (m, q: string, key: string, colon: string, _raw: string, dq?: string, sq?: string, bare?: string) => {
        const value = dq ?? sq ?? bare ?? '';
        if (!value.trim() || !isSensitiveHeader(key) || isRef(value)) return m;
        const masked = dq !== undefined ? `"${MASK}"` : sq !== undefined ? `'${MASK}'` : MASK;
        return `${q}${key}${q}${colon}${masked}`;
      },
    );
}
