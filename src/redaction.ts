/**
 * Secret values kept out of everything a worker lets go of: stage results and failures (they
 * become workflow history), its log and console output, and the reports stages write.
 *
 * A value leaves in more shapes than its own text: escaped in JSON (`"` as `\"`, `\` as `\\`,
 * non-ASCII as `\u00e9`) or by util.inspect, percent-encoded by any WHATWG encode set or
 * encodeURI (either hex case, space as %20 or +), HTML-escaped, base64 or base64url (also inside
 * a longer encoded text, as in Basic auth). Searching JSON text for the raw value missed a secret
 * holding `"` or `\`; every one of these forms is replaced here.
 *
 * The worker remembers each secret it resolves (`rememberSecrets`) and from then on redacts it
 * from whatever the process writes to stdout and stderr (`redactStandardStreams`: the activity
 * logger, console.log of a stage or of a library) and from results, failures and reports.
 */
import { inspect } from 'node:util';

export const REDACTED = '[redacted]';

const C0 = (c: number) => c < 0x20 || c > 0x7e;
const inSet = (chars: string) => (c: number) => C0(c) || chars.includes(String.fromCharCode(c));
// The WHATWG URL standard's percent-encode sets, from the narrowest to application/x-www-form-urlencoded.
const QUERY = ' "#<>';
const PATH = `${QUERY}?\`{}^`;
const USERINFO = `${PATH}/:;=@[\\]|`;
const COMPONENT = `${USERINFO}$%&+,`;
const URL_SETS = [` "<>\``, QUERY, `${QUERY}'`, PATH, USERINFO, COMPONENT, `${COMPONENT}!'()~`].map(inSet);

function percentEncode(s: string, encode: (c: number) => boolean, spaceAsPlus = false): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (spaceAsPlus && ch === ' ') out += '+';
    else if (encode(c)) for (const b of Buffer.from(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

function tryEncode(f: (s: string) => string, s: string): string[] {
  try {
    return [f(s)];
  } catch {
    return []; // a lone surrogate
  }
}

function urlForms(s: string): string[] {
  const upper = [
    ...URL_SETS.flatMap((set) => [percentEncode(s, set), percentEncode(s, set, true)]),
    ...tryEncode(encodeURI, s),
    ...tryEncode(encodeURIComponent, s),
  ];
  return [...upper, ...upper.map((u) => u.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()))];
}

const json = (s: string) => JSON.stringify(s).slice(1, -1);
// util.inspect's escaping, as console.log and the SDK's logger print strings inside objects
const inspected = (s: string) => inspect(s).slice(1, -1);
/** A form as it reads after the escaping text goes through on its way to a log or a payload. */
const ESCAPES = [(s: string) => s, json, inspected, (s: string) => json(json(s)), (s: string) => inspected(json(s))];

/** JSON's other spellings of the value: non-ASCII as \u00e9 (Python's default), `/` as `\/`. */
function jsonSpellings(s: string): string[] {
  const ascii = (hex: (h: string) => string) =>
    json(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${hex(c.charCodeAt(0).toString(16).padStart(4, '0'))}`);
  return [json(s).replaceAll('/', '\\/'), ascii((h) => h), ascii((h) => h.toUpperCase())];
}

function htmlForms(s: string): string[] {
  const base = { '&': '&amp;', '<': '&lt;', '>': '&gt;' } as Record<string, string>;
  const forms: Record<string, string>[] = [
    { ...base, '"': '&quot;', "'": '&#39;' },
    { ...base, '"': '&#34;', "'": '&#x27;' },
  ];
  return forms.map((m) => s.replace(/[&<>"']/g, (c) => m[c]!));
}

/**
 * base64 of the value, and of the value at each of the three byte offsets inside a longer text:
 * the characters no neighbouring byte touches (at least 8 of them, so a short run does not
 * match unrelated text).
 */
function base64Forms(s: string): string[] {
  const bytes = Buffer.from(s);
  const out: string[] = [];
  for (const enc of ['base64', 'base64url'] as const) {
    const whole = bytes.toString(enc);
    out.push(whole, whole.replace(/=+$/, ''));
    for (let k = 0; k < 3; k++) {
      const groups = Math.floor((k + bytes.length) / 3);
      const text = Buffer.concat([Buffer.alloc(k), bytes]).toString(enc);
      const middle = text.slice(k === 0 ? 0 : 4, groups * 4);
      if (middle.length >= 8) out.push(middle);
    }
  }
  return out;
}

const variants = new Map<string, string[]>();

/** Every form of `secret` to redact, longest first (so a form inside another goes with it). */
export function secretForms(secret: string): string[] {
  let v = variants.get(secret);
  if (!v) {
    const bases = [secret, ...urlForms(secret), ...htmlForms(secret), ...base64Forms(secret)];
    const all = [...bases.flatMap((b) => ESCAPES.map((encode) => encode(b))), ...jsonSpellings(secret)];
    v = [...new Set(all)].filter((x) => x !== '').sort((a, b) => b.length - a.length);
    variants.set(secret, v);
  }
  return v;
}

/** `text` with every form of every secret replaced by `[redacted]`. */
export function redactText(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    for (const form of secretForms(s)) if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}

/** A copy of a JSON-like value with secrets redacted from every string, keys included. */
export function redactValue<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactText(k, secrets), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}

function setField(e: Error, key: 'message' | 'stack' | 'details' | 'cause', value: unknown): void {
  try {
    (e as unknown as Record<string, unknown>)[key] = value;
  } catch {
    Object.defineProperty(e, key, { value, writable: true, configurable: true });
  }
}

/**
 * Redacts an error's message, stack and details, and those of its causes, in place (they become
 * the activity's failure). A thrown value that is not an Error becomes one, redacted.
 */
export function redactError(err: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return err;
  if (!(err instanceof Error)) {
    const text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
    return new Error(redactText(text, secrets));
  }
  let e = err;
  for (let depth = 0; depth < 8; depth++) {
    setField(e, 'message', redactText(e.message, secrets));
    if (e.stack) setField(e, 'stack', redactText(e.stack, secrets));
    const details = (e as { details?: unknown }).details;
    if (details !== undefined) setField(e, 'details', redactValue(details, secrets));
    if (!(e.cause instanceof Error)) {
      if (e.cause !== undefined) setField(e, 'cause', redactValue(e.cause, secrets));
      break;
    }
    e = e.cause;
  }
  return err;
}

const inUse = new Set<string>();

/** Secrets this process has handed to a stage: redacted from all it lets out from now on. */
export function rememberSecrets(secrets: Iterable<string>): void {
  for (const s of secrets) if (s !== '') inUse.add(s);
}

export function secretsInUse(): string[] {
  return [...inUse];
}

function redactChunk(chunk: unknown, encoding: unknown): unknown {
  if (inUse.size === 0) return chunk;
  if (typeof chunk === 'string') {
    return typeof encoding === 'string' && !/^utf-?8$/i.test(encoding) ? chunk : redactText(chunk, inUse);
  }
  if (chunk instanceof Uint8Array) {
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
    const clean = redactText(text, inUse);
    return clean === text ? chunk : Buffer.from(clean);
  }
  return chunk;
}

let streamsRedacted = false;

/**
 * From now on, what this process writes to stdout and stderr has the secrets in use redacted:
 * the SDK's logger (and so the activity logger), console output of stages and of the libraries
 * they call. A secret split across two writes is not caught; a log line is one write.
 */
export function redactStandardStreams(): void {
  if (streamsRedacted) return;
  streamsRedacted = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => write(redactChunk(chunk, rest[0]), ...rest)) as typeof stream.write;
  }
}
