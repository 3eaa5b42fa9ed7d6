// A parallel-coordinates chart of a search: one vertical axis per searched parameter and a last
// one for the objective; each finished trial is a line across them, darker the better its
// objective, the best trial drawn on top in red. Numbers sit on their range (a log scale when all
// are positive and span over two decades, as a logUniform dimension does); choices are spread
// evenly in the order they first appear. A trial without a parameter (a conditional sub-space)
// breaks its line at that axis.
import { esc } from './svg.ts';

type Value = string | number | boolean;
export interface ParallelTrial {
  id: number;
  params: Record<string, Value>;
  value: number | null;
}

interface Axis {
  name: string;
  /** Position in [0, 1] (0 at the bottom) of a value; undefined when the trial has none. */
  at(v: Value | undefined): number | undefined;
  labels: { at: number; text: string }[];
}

function short(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-2) ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function numericAxis(name: string, values: number[]): Axis {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const log = lo > 0 && hi / lo > 100;
  const f = (v: number) => (log ? Math.log10(v) : v);
  const span = f(hi) - f(lo) || 1;
  const at = (v: Value | undefined) => (typeof v === 'number' && Number.isFinite(v) ? (f(v) - f(lo)) / span : undefined);
  return {
    name: log ? `${name} (log)` : name,
    at,
    labels: [
      { at: 0, text: short(lo) },
      { at: 1, text: short(hi) },
    ],
  };
}

function choiceAxis(name: string, values: Value[]): Axis {
  const order = [...new Set(values.map(String))];
  const pos = (i: number) => (order.length === 1 ? 0.5 : i / (order.length - 1));
  return {
    name,
    at: (v) => (v === undefined ? undefined : pos(order.indexOf(String(v)))),
    labels: order.map((text, i) => ({ at: pos(i), text })),
  };
}

export function parallelCoordinates(
  title: string,
  trials: ParallelTrial[],
  objective: string,
  direction: 'minimize' | 'maximize',
  bestId?: number,
): string {
  const done = trials.filter((t): t is ParallelTrial & { value: number } => t.value !== null && Number.isFinite(t.value));
  const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))].sort();
  const axes: Axis[] = names.map((n) => {
    const vs = done.map((t) => t.params[n]).filter((v): v is Value => v !== undefined);
    return vs.every((v) => typeof v === 'number') ? numericAxis(n, vs as number[]) : choiceAxis(n, vs);
  });
  axes.push(
    numericAxis(
      objective,
      done.map((t) => t.value),
    ),
  );
  const width = Math.max(360, 140 * axes.length);
  const height = 300;
  const m = { l: 60, r: 60, t: 44, b: 40 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const x = (k: number) => m.l + (axes.length === 1 ? w / 2 : (k / (axes.length - 1)) * w);
  const y = (p: number) => m.t + h - p * h;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `role="img" aria-label="${esc(title)}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${m.l}" y="18" font-size="13" font-family="sans-serif" font-weight="bold">${esc(title)}</text>`,
  ];
  // Better trials darker: rank by the objective in the search's direction.
  const ranked = [...done].sort((a, b) => (direction === 'maximize' ? a.value - b.value : b.value - a.value));
  const shade = new Map(ranked.map((t, i) => [t.id, ranked.length === 1 ? 1 : i / (ranked.length - 1)]));
  const lines = [...done].sort((a, b) => (a.id === bestId ? 1 : b.id === bestId ? -1 : 0));
  for (const t of lines) {
    const points = axes.map((a, k) => {
      const p = a.at(k === axes.length - 1 ? t.value : t.params[names[k]!]);
      return p === undefined ? undefined : `${x(k).toFixed(1)},${y(p).toFixed(1)}`;
    });
    // a missing parameter breaks the line into runs
    const runs: string[][] = [[]];
    for (const p of points) {
      if (p === undefined) runs.push([]);
      else runs.at(-1)!.push(p);
    }
    const best = t.id === bestId;
    const s = shade.get(t.id)!;
    const color = best ? '#d62728' : `rgb(${Math.round(200 - 170 * s)},${Math.round(210 - 120 * s)},${Math.round(230 - 50 * s)})`;
    for (const r of runs.filter((r) => r.length > 0)) {
      if (r.length === 1) {
        // a value between two missing ones: a dot, so it still shows
        const [cx, cy] = r[0]!.split(',');
        parts.push(`<circle data-trial="${t.id}" cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
        continue;
      }
      parts.push(
        `<polyline data-trial="${t.id}" fill="none" stroke="${color}" stroke-width="${best ? 2.5 : 1.5}" points="${r.join(' ')}"/>`,
      );
    }
  }
  axes.forEach((a, k) => {
    parts.push(
      `<line x1="${x(k)}" y1="${m.t}" x2="${x(k)}" y2="${m.t + h}" stroke="#444"/>`,
      `<text x="${x(k)}" y="${m.t - 10}" font-size="11" text-anchor="middle" font-family="sans-serif">${esc(a.name)}</text>`,
      ...a.labels.map(
        (l) => `<text x="${x(k) + 4}" y="${y(l.at) + 4}" font-size="10" font-family="sans-serif" fill="#333">${esc(l.text)}</text>`,
      ),
    );
  });
  parts.push(
    `<text x="${m.l}" y="${height - 10}" font-size="10" font-family="sans-serif" fill="#555">` +
      `one line per finished trial; darker is better${bestId !== undefined ? `, red: the best (trial ${bestId})` : ''}</text>`,
    '</svg>',
  );
  return parts.join('');
}
