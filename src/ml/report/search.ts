// The run report's section of a hyper-parameter search (an optimize stage whose trials ran as
// their own activities): the objective of every trial and the best so far, as a chart and a table,
// and the parameters against the objective as parallel coordinates.
import { parallelCoordinates } from './parallel.ts';
import { esc, lineChart } from './svg.ts';

export interface SearchSection {
  stage: string;
  tunes: string;
  method: string;
  metric: string;
  direction: 'minimize' | 'maximize';
  /** The best trial's id. */
  best: number;
  trials: Array<{
    id: number;
    state: string;
    value: number | null;
    bestSoFar: number | null;
    params: Record<string, string | number | boolean>;
    epochs?: number;
    /** Why it was pruned, or why it failed. */
    note?: string;
  }>;
}

const num = (v: number | null | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : '–');

export function renderSearch(s: SearchSection): string {
  const out = [
    `<h2>Search: ${esc(s.stage)} (tunes ${esc(s.tunes)}, ${esc(s.method)})</h2>`,
    `<p>${s.trials.length} trials · ${s.trials.filter((t) => t.state === 'complete').length} complete, ` +
      `${s.trials.filter((t) => t.state === 'pruned').length} pruned, ${s.trials.filter((t) => t.state === 'failed').length} failed · ` +
      `${esc(s.direction)} ${esc(s.metric)} · best: trial ${s.best}</p>`,
    lineChart(
      `${s.metric} per trial`,
      { [s.metric]: s.trials.map((t) => t.value), 'best so far': s.trials.map((t) => t.bestSoFar) },
      620,
      280,
      'trial',
    ),
    parallelCoordinates(`parameters and ${s.metric}`, s.trials, s.metric, s.direction, s.best),
  ];
  const paths = [...new Set(s.trials.flatMap((t) => Object.keys(t.params)))].sort();
  out.push(
    '<table><tr><th>trial</th><th>state</th>' +
      `<th>${esc(s.metric)}</th><th>best so far</th><th>epochs</th>` +
      paths.map((p) => `<th>${esc(p)}</th>`).join('') +
      '<th></th></tr>',
  );
  for (const t of s.trials) {
    out.push(
      `<tr${t.id === s.best ? ' class="pass"' : ''}><td>${t.id}</td><td>${esc(t.state)}</td><td>` +
        `${num(t.value)}</td><td>${num(t.bestSoFar)}</td><td>${num(t.epochs)}</td>` +
        paths
          .map(
            (p) =>
              `<td>${p in t.params ? esc(typeof t.params[p] === 'number' ? num(t.params[p] as number) : String(t.params[p])) : ''}</td>`,
          )
          .join('') +
        `<td>${esc(t.note ?? '')}</td></tr>`,
    );
  }
  out.push('</table>');
  return out.join('\n');
}
