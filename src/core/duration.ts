/** `30s`, `5m`, `1.5h`, `1d`, `500ms` to milliseconds (the schema's Duration pattern). */
export function parseDuration(s: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`invalid duration \`${s}\`: use a number and a unit, e.g. 500ms, 30s, 5m, 2h, 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
