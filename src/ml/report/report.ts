// Run reports: a self-contained page with inline SVG charts (loss/metric curves per epoch,
// confusion matrix, lineage). Each train or evaluate stage writes its section as a run file of
// the artifact store (`report/<training|evaluation|search>/<stage>.json`), so stages on any hosts add to
// one report; the page is rendered from the sections and the run's lineage into a local cache,
// `<MLPIPE_HOME>/runs/<workflow id>/report.html`: by each stage on its host, and by
// `mlpipe report <run>` on any host that uses the same store.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { RunContext } from '../../core/plan.ts';
import { runDirName, runDirNames } from '../../artifacts/run-dir.ts';
import type { ArtifactRecord, ArtifactStore } from '../../artifacts/store.ts';
import { mlpipeHome } from '../../home.ts';
import { redactValue, secretsInUse } from '../../redaction.ts';
import type { ExpectationResult } from '../data/expectations.ts';
import { renderSearch, type SearchSection } from './search.ts';
import { esc, heatmap, lineChart, lineageGraph } from './svg.ts';

export interface TrainingSection {
  stage: string;
  history: Array<{ epoch: number; logs: Record<string, number> }>;
  backend: { backend: string; tfVersion: string | null; tfjsVersion: string };
  /** How batches ran: one TensorFlow graph per step, or eager ops (with the reason). */
  engine?: { engine: 'graph' | 'eager'; reason?: string };
  stopReason: string;
  metrics: string[];
  /** Set when the stage came from the step cache: the run that trained it ('' when unknown). */
  cachedFrom?: string;
}

export interface EvaluationSection {
  stage: string;
  split: string;
  metrics: Record<string, number | number[][] | null>;
  classes?: string[];
  gates: Array<{ metric: string; min?: number; max?: number; value: number | null; passed: boolean }>;
  passed: boolean;
  /** e.g. labels the model was not trained on, counted as classes of their own. */
  warnings?: string[];
  /** Set when the stage came from the step cache: the run that evaluated it ('' when unknown). */
  cachedFrom?: string;
}

/** A collect stage's data checks: rows kept and dropped, and its expectations' results. */
export interface DataSection {
  stage: string;
  rows: number;
  droppedRows: number;
  expectations?: ExpectationResult[];
  /** Set when the stage came from the step cache ('' when the computing run is unknown). */
  cachedFrom?: string;
}

export interface RunReportData {
  run: RunContext;
  updatedAt: string;
  training: Record<string, TrainingSection>;
  evaluation: Record<string, EvaluationSection>;
  data?: Record<string, DataSection>;
  /** Searches (optimize stages); absent in reports older versions cached. */
  search?: Record<string, SearchSection>;
  lineage: ArtifactRecord[];
}

/** One stage's section, as stored. */
interface SectionFile {
  run: RunContext;
  updatedAt: string;
  training?: TrainingSection;
  evaluation?: EvaluationSection;
  data?: DataSection;
  search?: SearchSection;
}

export function runDir(workflowId: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(mlpipeHome(env), 'runs', runDirName(workflowId));
}

/** Where a run's HTML report is cached on this host (whether or not it exists yet). */
export function reportPath(workflowId: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(runDir(workflowId, env), 'report.html');
}

/**
 * A report an older mlpipe left in `$MLPIPE_HOME/runs/`: in the run's directory, or in the one an
 * earlier naming gave it, which ids such as `a/1` and `a_1` shared (the report.json an older
 * mlpipe wrote beside it says whose it is); null when there is none.
 */
export function oldReportPath(workflowId: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const d of runDirNames(workflowId)) {
    const dir = join(mlpipeHome(env), 'runs', d);
    if (!existsSync(join(dir, 'report.html'))) continue;
    let owner: string | undefined;
    try {
      owner = (JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { run?: { workflowId?: string } }).run?.workflowId;
    } catch {
      owner = undefined; // none beside it
    }
    if (owner === workflowId || (owner === undefined && d === runDirName(workflowId))) return join(dir, 'report.html');
  }
  return null;
}

/** Store a stage's section of the run's report and render the report here. Returns the HTML path. */
export async function updateRunReport(
  run: RunContext,
  store: ArtifactStore,
  add: { training?: TrainingSection; evaluation?: EvaluationSection; data?: DataSection; search?: SearchSection },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const updatedAt = new Date().toISOString();
  const sections = [
    ['training', add.training],
    ['evaluation', add.evaluation],
    ['data', add.data],
    ['search', add.search],
  ] as const;
  for (const [kind, section] of sections) {
    if (!section) continue;
    // whatever a section quotes (class names from the data, a reason from an error) holds no secret
    const file = redactValue<SectionFile>({ run, updatedAt, [kind]: section }, secretsInUse());
    await store.putRunFile(run.workflowId, `report/${kind}/${encodeURIComponent(section.stage)}.json`, Buffer.from(JSON.stringify(file)));
  }
  return (await fetchRunReport(run.workflowId, store, env))!;
}

/**
 * Render a run's report from its sections and lineage in `store` into this host's cache; returns
 * the HTML path, or null when the store holds no section of the run.
 */
export async function fetchRunReport(
  workflowId: string,
  store: ArtifactStore,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  const names = await store.listRunFiles(workflowId, 'report/');
  const files = (await Promise.all(names.map((n) => store.getRunFile(workflowId, n))))
    .filter((b): b is Buffer => b !== null)
    .map((b) => JSON.parse(b.toString('utf8')) as SectionFile)
    .filter((f) => f.run.workflowId === workflowId) // an earlier naming let runs share a directory
    .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
  const last = files.at(-1);
  if (!last) return null;
  const data: RunReportData = {
    run: last.run,
    updatedAt: last.updatedAt,
    training: {},
    evaluation: {},
    data: {},
    search: {},
    lineage: await store.list(workflowId),
  };
  for (const f of files) {
    if (f.data) data.data![f.data.stage] = f.data;
    if (f.training) data.training[f.training.stage] = f.training;
    if (f.evaluation) data.evaluation[f.evaluation.stage] = f.evaluation;
    if (f.search) data.search![f.search.stage] = f.search;
  }
  return writeRunReport(data, env);
}

function cachedNote(from: string | undefined): string {
  if (from === undefined) return '';
  return ` <small>(from the step cache${from ? `: computed by run <code>${esc(from)}</code>` : ''})</small>`;
}

/** Render `data` to report.html; returns its path. */
export async function writeRunReport(data: RunReportData, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = reportPath(data.run.workflowId, env);
  await mkdir(runDir(data.run.workflowId, env), { recursive: true });
  await writeFileAtomic(file, renderReport(data));
  return file;
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === null ? '–' : esc(String(v)));

export function renderReport(d: RunReportData): string {
  const out: string[] = [];
  out.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    `<title>mlpipe run ${esc(d.run.workflowId)}</title>`,
    '<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}table{border-collapse:collapse;margin:8px 0}' +
      'td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}.pass{color:#2a7}.fail{color:#c33}' +
      'code{font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head><body>',
    `<h1>Run ${esc(d.run.workflowId)}</h1>`,
    `<p>Pipeline <b>${esc(d.run.pipeline)}</b> · run id <code>${esc(d.run.runId)}</code> · plan ` +
      `<code>${esc(d.run.planHash.slice(0, 12))}</code>` +
      (d.run.gitSha ? ` · git <code>${esc(d.run.gitSha.slice(0, 12))}</code>` : '') +
      ` · updated ${esc(d.updatedAt)}</p>`,
  );
  for (const s of Object.values(d.data ?? {})) out.push(...dataSection(s));
  for (const s of Object.values(d.search ?? {})) out.push(renderSearch(s));
  for (const t of Object.values(d.training)) {
    const epochs = t.history.map((h) => h.logs);
    const series = (k: string) => epochs.map((l) => l[k] ?? null);
    out.push(
      `<h2>Training: ${esc(t.stage)}${cachedNote(t.cachedFrom)}</h2>`,
      `<p>${t.history.length} epochs · stopped: ${esc(t.stopReason)} · backend ${esc(t.backend.backend)}` +
        (t.backend.tfVersion ? ` (TensorFlow ${esc(t.backend.tfVersion)})` : '') +
        ` · tfjs ${esc(t.backend.tfjsVersion)}` +
        (t.engine
          ? ` · ${t.engine.engine === 'graph' ? 'graph training step' : `eager ops${t.engine.reason ? ` (${esc(t.engine.reason)})` : ''}`}`
          : '') +
        '</p>',
      '<div class="charts">',
      lineChart('loss', { loss: series('loss'), val_loss: series('val_loss') }),
    );
    for (const m of t.metrics) out.push(lineChart(m, { [m]: series(m), [`val_${m}`]: series(`val_${m}`) }));
    out.push('</div>');
    const keys = [...new Set(epochs.flatMap((l) => Object.keys(l)))];
    out.push(
      '<details><summary>per-epoch values</summary><table><tr><th>epoch</th>' + keys.map((k) => `<th>${esc(k)}</th>`).join('') + '</tr>',
    );
    for (const h of t.history)
      out.push(`<tr><td>${h.epoch + 1}</td>` + keys.map((k) => `<td>${fmt(h.logs[k] ?? null)}</td>`).join('') + '</tr>');
    out.push('</table></details>');
  }
  for (const e of Object.values(d.evaluation)) {
    out.push(
      `<h2>Evaluation: ${esc(e.stage)} (${esc(e.split)} split)${cachedNote(e.cachedFrom)} — <span ` +
        `class="${e.passed ? 'pass' : 'fail'}">${e.passed ? 'passed' : 'failed'}</span></h2>`,
      ...(e.warnings ?? []).map((w) => `<p class="fail">warning: ${esc(w)}</p>`),
      '<table><tr><th>metric</th><th>value</th></tr>',
    );
    for (const [k, v] of Object.entries(e.metrics)) if (!Array.isArray(v)) out.push(`<tr><td>${esc(k)}</td><td>${fmt(v)}</td></tr>`);
    out.push('</table>');
    if (e.gates.length) {
      out.push('<table><tr><th>gate</th><th>min</th><th>max</th><th>value</th><th></th></tr>');
      for (const g of e.gates) {
        out.push(
          `<tr><td>${esc(g.metric)}</td><td>${fmt(g.min ?? null)}</td><td>${fmt(g.max ?? null)}</td><td>${fmt(g.value)}</td>` +
            `<td class="${g.passed ? 'pass' : 'fail'}">${g.passed ? 'ok' : 'FAILED'}</td></tr>`,
        );
      }
      out.push('</table>');
    }
    const cm = e.metrics.confusionMatrix;
    if (Array.isArray(cm)) {
      const labels = cm.map((_, i) => e.classes?.[i] ?? String(i));
      out.push(heatmap('confusion matrix', cm, labels));
    }
  }
  if (d.lineage.length) {
    const stages = [...new Set(d.lineage.map((r) => r.lineage.stage))];
    const producer = new Map<string, string>();
    for (const r of d.lineage) producer.set(r.ref.digest, r.lineage.stage);
    const edges = new Set<string>();
    for (const r of d.lineage) {
      for (const dg of Object.values(r.lineage.inputs)) {
        const from = producer.get(dg);
        if (from && from !== r.lineage.stage) edges.add(`${from}\u0000${r.lineage.stage}`);
      }
    }
    const nodes = stages.map((s) => {
      const recs = d.lineage.filter((r) => r.lineage.stage === s && !r.lineage.name?.startsWith('checkpoint-'));
      return { id: s, label: s, sub: [...new Set(recs.map((r) => r.ref.kind))].join(', ') };
    });
    out.push(
      '<h2>Lineage</h2>',
      lineageGraph(
        nodes,
        [...edges].map((e) => e.split('\u0000') as [string, string]),
      ),
    );
    out.push(
      '<table><tr><th>stage</th><th>attempt</th><th>kind</th><th>artifact</th><th>size</th>' +
        '<th>inputs</th><th>created</th><th>get it</th></tr>',
    );
    for (const r of d.lineage) {
      out.push(
        `<tr><td>${esc(r.lineage.stage)}${r.lineage.name ? ` (${esc(r.lineage.name)})` : ''}</td><td>` +
          `${r.lineage.attempt}</td><td>${esc(r.ref.kind)}</td>` +
          `<td><code title="${esc(r.ref.uri)}">${esc(r.ref.digest.slice(0, 19))}</code></td><td>${r.ref.sizeBytes}</td>` +
          `<td>${Object.entries(r.lineage.inputs)
            .map(([k, v]) => `${esc(k)}: <code>${esc(v.slice(0, 19))}</code>`)
            .join('<br>')}</td><td>${esc(r.createdAt)}</td>` +
          `<td>${exportCommand(d.run.workflowId, r)}</td></tr>`,
      );
    }
    out.push('</table>');
  }
  out.push('</body></html>');
  return out.join('\n');
}

/** A collect stage's rows, dropped rows and expectations as a table. */
function dataSection(s: DataSection): string[] {
  const failed = s.expectations?.filter((r) => !r.passed) ?? [];
  const errors = failed.filter((r) => r.severity === 'error').length;
  const verdict = !s.expectations
    ? ''
    : errors
      ? ' — <span class="fail">expectations failed</span>'
      : ' — <span class="pass">expectations met</span>';
  const out = [
    `<h2>Data: ${esc(s.stage)}${cachedNote(s.cachedFrom)}${verdict}</h2>`,
    `<p>${s.rows} rows · ${s.droppedRows} dropped as bad (onBadRows: drop)` +
      (s.expectations ? ` · ${s.expectations.length - failed.length} of ${s.expectations.length} expectations passed` : '') +
      '</p>',
  ];
  if (!s.expectations?.length) return out;
  out.push(
    '<table><tr><th>column</th><th>rule</th><th>severity</th><th>expected</th><th>observed</th><th>failing ' +
      'rows</th><th>e.g.</th><th></th></tr>',
  );
  for (const r of s.expectations) {
    const state = r.passed ? '<td class="pass">ok</td>' : `<td class="fail">${r.severity === 'error' ? 'FAILED' : 'warning'}</td>`;
    out.push(
      `<tr><td>${esc(r.column ?? '–')}</td><td>${esc(r.rule)}</td><td>${esc(r.severity)}</td><td>` +
        `${esc(r.expected)}</td><td>${esc(r.observed)}</td>` +
        `<td>${r.failingRows}</td><td>${r.places.map(esc).join('<br>')}</td>${state}</tr>`,
    );
  }
  out.push('</table>');
  return out;
}

/**
 * The command that exports an artifact of the report's run (`mlpipe artifacts get`): a dataset
 * as CSV or Parquet, a model as a TensorFlow.js directory. A page cannot hold the files
 * themselves (it is one self-contained file; the artifacts may be gigabytes in S3), so it links
 * to them the way a terminal can follow.
 */
function exportCommand(workflowId: string, r: ArtifactRecord): string {
  if (r.lineage.name?.startsWith('checkpoint-')) return '';
  const name = `${r.lineage.stage}.${r.lineage.name ?? r.ref.kind}`;
  const quoted = /^[\w./%:-]+$/.test(workflowId) ? workflowId : `'${workflowId.replace(/'/g, `'\\''`)}'`;
  const fmt =
    r.ref.kind === 'dataset'
      ? ' [--format parquet] -o ' + `${r.lineage.stage}.csv`
      : r.ref.kind === 'model'
        ? ` -o ${r.lineage.stage}-model`
        : '';
  return `<code>mlpipe artifacts get ${esc(quoted)} ${esc(name)}${esc(fmt)}</code>`;
}
