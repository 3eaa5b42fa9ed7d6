/**
 * The forms a secret takes on its way out of a stage, for the redaction tests: what code writes
 * (`encodings`), and the forms of the value itself a reader could decode (`leakedForms`).
 */
import { inspect } from 'node:util';

/** `s` as code writes it: JSON, URLs (encoded both ways, and as the WHATWG parser leaves it), base64, Basic auth. */
export function encodings(s: string): { raw: string } & Record<string, string> {
  return {
    raw: s,
    json: JSON.stringify({ s }),
    url: `https://example.test/cb?token=${encodeURIComponent(s)}`,
    form: new URLSearchParams({ token: s }).toString(),
    whatwg: new URL(`https://example.test/cb?k=${s}`).href,
    base64: Buffer.from(s).toString('base64'),
    base64url: Buffer.from(s).toString('base64url'),
    basic: `Basic ${Buffer.from(`user:${s}`).toString('base64')}`,
  };
}

/** The forms of `s` found in `text`, each enough to recover the secret. */
export function leakedForms(text: string, s: string): string[] {
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  const values = [
    s,
    encodeURIComponent(s),
    encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    new URLSearchParams({ k: s }).toString().slice(2),
    new URL(`https://example.test/?k=${s}`).search.slice(3),
    b64(s),
    Buffer.from(s).toString('base64url'),
    b64(`user:${s}`).slice(4, -4), // inside Basic auth
    b64(`me:${s}`).slice(4, -4),
  ];
  // each as it reads once escaped for a JSON payload or a log line (util.inspect), or twice
  const json = (v: string) => JSON.stringify(v).slice(1, -1);
  const insp = (v: string) => inspect(v).slice(1, -1);
  const forms = values.flatMap((v) => [v, json(v), insp(v), json(json(v)), insp(json(v)), insp(insp(v))]);
  return [...new Set(forms)].filter((f) => text.includes(f));
}
