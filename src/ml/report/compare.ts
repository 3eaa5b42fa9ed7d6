/**
 * `mlpipe compare --html`: the runs side by side as a page: the table (rows where the runs differ
 * highlighted), one chart per numeric result across the runs in the order given (the metric
 * history of a pipeline when the runs are its retrains), and each train stage's loss curves of
 * every run overlaid (from the history artifacts in the store).
 */
import type { ArtifactStore } from '../../artifacts/store.ts';
import { isArtifactRef } from '../../core/plan.ts';
import type { CompareRow, RunSummary } from '../../temporal/compare.ts';
import { esc, lineChart } from './svg.ts';

type Curves = Record<string, Record<string, (number | null)[]>>;

/** Per train stage, per run: its loss (and val_loss) per epoch; runs whose history cannot be read are left out. */
export async function lossCurves(runs: RunSummary[], store: ArtifactStore): Promise<Curves> {
  const curves: Curves = {};
  for (const r of runs) {
    for (const [stage, st] of Object.entries(r.stages)) {
      const ref = st.outputs.history;
      if (st.kind !== 'train' || !isArtifactRef(ref)) continue;
      const doc = await store
        .get(ref)
        .then((b) => JSON.parse(b.toString('utf8')) as { history?: Array<{ logs: Record<string, number> }> })
        .catch(() => null);
      if (!doc?.history) continue;
      const c = (curves[stage] ??= {});
      c[`${r.workflowId} loss`] = doc.history.map((h) => h.logs.loss ?? null);
      if (doc.history.some((h) => h.logs.val_loss !== undefined))
        c[`${r.workflowId} val_loss`] = doc.history.map((h) => h.logs.val_loss ?? null);
    }
  }
  return curves;
}

export function renderCompare(runs: RunSummary[], rows: CompareRow[], curves: Curves): string {
  const out = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<title>mlpipe compare ${esc(runs.map((r) => r.workflowId).join(' · '))}</title>`,
    '<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;margin:8px 0}' +
      'td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}tr.differs td{background:#fff4d6;font-weight:bold}' +
      '.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>',
    `<h1>${runs.length} runs of ${esc([...new Set(runs.map((r) => r.pipeline))].join(', '))}</h1>`,
    '<p>Highlighted rows differ between the runs.</p>',
    '<table><tr><th></th>' + runs.map((r, i) => `<th>#${i + 1} ${esc(r.workflowId)}</th>`).join('') + '</tr>',
  ];
  for (const row of rows) {
    const name = row.section === 'run' ? row.name : `${row.section}.${row.name}`;
    out.push(
      `<tr${row.differs ? ' class="differs"' : ''}><td>${esc(name)}</td>` +
        row.values.map((v) => `<td>${esc(v ?? '–')}</td>`).join('') +
        '</tr>',
    );
  }
  out.push('</table>');
  const numeric = rows.filter(
    (r) =>
      r.section === 'results' &&
      r.values.some((v) => v !== null && Number.isFinite(Number(v))) &&
      !r.values.every((v) => v === 'true' || v === 'false'),
  );
  if (numeric.length && runs.length > 1) {
    out.push('<h2>Results across the runs</h2><p>x: the runs in the order given (#1 … #' + runs.length + ')</p><div class="charts">');
    for (const r of numeric) out.push(lineChart(r.name, { [r.name]: r.values.map((v) => (v === null ? null : Number(v))) }, 420, 240));
    out.push('</div>');
  }
  for (const [stage, series] of Object.entries(curves)) {
    out.push(`<h2>Training: ${esc(stage)}, loss per epoch</h2><div class="charts">`, lineChart('loss', series, 900, 360), '</div>');
  }
  out.push('</body></html>');
  return out.join('\n');
}
