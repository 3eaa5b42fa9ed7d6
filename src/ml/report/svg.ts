// Small hand-written SVG charts for run reports (no dependencies, no scripts: safe to inline).

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function niceNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

/** Line chart: one series per name over epochs (or `xLabel`; 1-based on the x axis). */
export function lineChart(title: string, series: Record<string, (number | null)[]>, width = 520, height = 280, xLabel = 'epoch'): string {
  const names = Object.keys(series).filter((n) => series[n]!.some((v) => v !== null && Number.isFinite(v)));
  const m = { l: 56, r: 120, t: 28, b: 36 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const all = names.flatMap((n) => series[n]!.filter((v): v is number => v !== null && Number.isFinite(v)));
  const n = Math.max(1, ...names.map((k) => series[k]!.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const x = (i: number) => m.l + (n === 1 ? w / 2 : (i / (n - 1)) * w);
  const y = (v: number) => m.t + h - ((v - lo) / (hi - lo)) * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${m.l}" y="18" font-size="13" font-family="sans-serif" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${m.t + h}" x2="${m.l + w}" y2="${m.t + h}" stroke="#444"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + h}" stroke="#444"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    parts.push(
      `<line x1="${m.l}" y1="${y(v)}" x2="${m.l + w}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${m.l - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end" font-family="sans-serif">${niceNum(v)}</text>`,
    );
  }
  const ticks = Math.min(n, 10);
  for (let t = 0; t < ticks; t++) {
    const i = Math.round((t * (n - 1)) / Math.max(1, ticks - 1));
    parts.push(`<text x="${x(i)}" y="${m.t + h + 14}" font-size="10" text-anchor="middle" font-family="sans-serif">${i + 1}</text>`);
  }
  parts.push(
    `<text x="${m.l + w / 2}" y="${height - 6}" font-size="11" text-anchor="middle" font-family="sans-serif">${esc(xLabel)}</text>`,
  );
  names.forEach((name, k) => {
    const color = COLORS[k % COLORS.length]!;
    const pts = series[name]!.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(
      (p): p is string => p !== null,
    );
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${color}"/>`);
    }
    parts.push(
      `<rect x="${m.l + w + 12}" y="${m.t + k * 18}" width="12" height="3" fill="${color}"/>`,
      `<text x="${m.l + w + 28}" y="${m.t + k * 18 + 5}" font-size="11" font-family="sans-serif">${esc(name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Confusion-matrix heatmap: rows true class, columns predicted class. */
export function heatmap(title: string, matrix: number[][], labels: string[]): string {
  const k = matrix.length;
  const cell = Math.max(22, Math.min(48, Math.floor(420 / Math.max(1, k))));
  const m = { l: 90, t: 44, r: 16, b: 56 };
  const width = m.l + k * cell + m.r;
  const height = m.t + k * cell + m.b;
  const max = Math.max(1, ...matrix.flat());
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="18" font-size="13" font-family="sans-serif" font-weight="bold">${esc(title)}</text>`,
  ];
  matrix.forEach((row, i) =>
    row.forEach((v, j) => {
      const a = v / max;
      const fill = `rgb(${Math.round(255 - a * 224)},${Math.round(255 - a * 136)},${Math.round(255 - a * 75)})`;
      parts.push(
        `<rect x="${m.l + j * cell}" y="${m.t + i * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"/>`,
        `<text x="${m.l + j * cell + cell / 2}" y="${m.t + i * cell + cell / 2 + 4}" ` +
          `font-size="${cell > 30 ? 11 : 9}" text-anchor="middle" font-family="sans-serif" ` +
          `fill="${a > 0.6 ? '#fff' : '#000'}">${v}</text>`,
      );
    }),
  );
  labels.forEach((l, i) => {
    const short = l.length > 10 ? l.slice(0, 9) + '…' : l;
    parts.push(
      `<text x="${m.l - 6}" y="${m.t + i * cell + cell / 2 + 4}" font-size="10" text-anchor="end" ` +
        `font-family="sans-serif">${esc(short)}</text>`,
      `<text x="${m.l + i * cell + cell / 2}" y="${m.t + k * cell + 14}" font-size="10" ` +
        `text-anchor="middle" font-family="sans-serif">${esc(short)}</text>`,
    );
  });
  parts.push(
    `<text x="${m.l + (k * cell) / 2}" y="${height - 12}" font-size="11" text-anchor="middle" font-family="sans-serif">predicted</text>`,
    `<text x="12" y="${m.t + (k * cell) / 2}" font-size="11" font-family="sans-serif" ` +
      `transform="rotate(-90 12 ${m.t + (k * cell) / 2})" text-anchor="middle">true</text>`,
    '</svg>',
  );
  return parts.join('');
}

export interface LineageNode {
  id: string;
  label: string;
  sub: string;
}

/** Left-to-right graph of stages (columns by depth) with arrows along `edges`. */
export function lineageGraph(nodes: LineageNode[], edges: [string, string][]): string {
  const depth = new Map<string, number>();
  const d = (id: string, seen = new Set<string>()): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const ins = edges.filter(([, to]) => to === id).map(([from]) => d(from, seen) + 1);
    const v = ins.length ? Math.max(...ins) : 0;
    depth.set(id, v);
    return v;
  };
  nodes.forEach((n) => d(n.id));
  const cols = new Map<number, LineageNode[]>();
  for (const n of nodes) {
    const c = depth.get(n.id)!;
    cols.set(c, [...(cols.get(c) ?? []), n]);
  }
  const bw = 150;
  const bh = 44;
  const gx = 50;
  const gy = 16;
  const pos = new Map<string, { x: number; y: number }>();
  let maxRows = 1;
  for (const [c, ns] of cols) {
    maxRows = Math.max(maxRows, ns.length);
    ns.forEach((n, r) => pos.set(n.id, { x: 10 + c * (bw + gx), y: 10 + r * (bh + gy) }));
  }
  const width = 20 + cols.size * (bw + gx) - gx;
  const height = 20 + maxRows * (bh + gy) - gy;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="lineage">`,
    '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path ' +
      'd="M0,0 L8,4 L0,8 z" fill="#666"/></marker></defs>',
  ];
  for (const [a, b] of edges) {
    const p = pos.get(a);
    const q = pos.get(b);
    if (p && q)
      parts.push(`<line x1="${p.x + bw}" y1="${p.y + bh / 2}" x2="${q.x - 2}" y2="${q.y + bh / 2}" stroke="#666" marker-end="url(#arr)"/>`);
  }
  for (const n of nodes) {
    const p = pos.get(n.id)!;
    parts.push(
      `<rect x="${p.x}" y="${p.y}" width="${bw}" height="${bh}" rx="6" fill="#eef4fb" stroke="#1f77b4"/>`,
      `<text x="${p.x + 8}" y="${p.y + 18}" font-size="12" font-family="sans-serif" font-weight="bold">${esc(n.label)}</text>`,
      `<text x="${p.x + 8}" y="${p.y + 34}" font-size="10" font-family="monospace">${esc(n.sub)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
