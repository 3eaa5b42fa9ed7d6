/**
 * Runs side by side (`mlpipe compare`): what went in (params, plan hash, git sha, the digests of
 * the data stages' datasets) and what came out (every finished stage's scalar outputs), one row
 * per name, marked where the runs differ. Read from Temporal: each run's input from its history,
 * its stages from the status query or, with no worker to answer, its result.
 */
import type { Client } from '@temporalio/client';
import { isArtifactRef, type JsonValue } from '../core/plan.ts';
import { statusQuery, type StageState } from '../../workflows/api.ts';
import { runInput } from './runs.ts';
import { scalarOutputs, type Scalar } from './outputs-text.ts';

export interface RunSummary {
  workflowId: string;
  status: string;
  startTime?: string;
  pipeline: string;
  planHash: string;
  gitSha?: string;
  params: Record<string, JsonValue>;
  /** `<stage>.<output>` → value, for finished stages. */
  results: Record<string, Scalar>;
  /** `<stage>.<output>` → digest of each dataset artifact (what the data was). */
  data: Record<string, string>;
  stages: Record<string, StageState>;
}

export async function summarizeRun(client: Client, workflowId: string): Promise<RunSummary> {
  const handle = client.workflow.getHandle(workflowId);
  const [desc, input] = await Promise.all([handle.describe(), runInput(client, workflowId)]);
  let stages: Record<string, StageState> = {};
  let params: Record<string, JsonValue> = input.plan.params as Record<string, JsonValue>;
  try {
    const st = await handle.query(statusQuery);
    stages = st.stages;
    params = st.params as Record<string, JsonValue>;
  } catch {
    stages = await handle
      .result()
      .then((r) => r.stages)
      .catch(() => ({}));
  }
  const results: Record<string, Scalar> = {};
  const data: Record<string, string> = {};
  for (const id of input.plan.nodes.map((n) => n.id)) {
    const st = stages[id];
    if (st?.status !== 'succeeded') continue;
    for (const [k, v] of Object.entries(scalarOutputs(st.outputs))) results[`${id}.${k}`] = v;
    for (const [k, v] of Object.entries(st.outputs)) if (isArtifactRef(v) && v.kind === 'dataset') data[`${id}.${k}`] = v.digest;
  }
  return {
    workflowId,
    status: desc.status.name,
    startTime: desc.startTime?.toISOString(),
    pipeline: input.plan.pipeline,
    planHash: input.plan.hash,
    ...(input.gitSha ? { gitSha: input.gitSha } : {}),
    params,
    results,
    data,
    stages,
  };
}

export interface CompareRow {
  section: 'run' | 'params' | 'data' | 'results';
  name: string;
  values: (string | null)[];
  /** The runs do not all agree. */
  differs: boolean;
}

function text(v: JsonValue | Scalar | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function compareRows(runs: RunSummary[]): CompareRow[] {
  const rows: CompareRow[] = [];
  const add = (section: CompareRow['section'], name: string, values: (string | null)[]) =>
    rows.push({ section, name, values, differs: new Set(values).size > 1 });
  add(
    'run',
    'pipeline',
    runs.map((r) => r.pipeline),
  );
  add(
    'run',
    'status',
    runs.map((r) => r.status),
  );
  add(
    'run',
    'plan',
    runs.map((r) => r.planHash.slice(0, 12)),
  );
  add(
    'run',
    'git',
    runs.map((r) => r.gitSha?.slice(0, 12) ?? null),
  );
  const names = (pick: (r: RunSummary) => Record<string, unknown>) => [...new Set(runs.flatMap((r) => Object.keys(pick(r))))];
  for (const k of names((r) => r.params).sort())
    add(
      'params',
      k,
      runs.map((r) => text(r.params[k])),
    );
  for (const k of names((r) => r.data))
    add(
      'data',
      k,
      runs.map((r) => r.data[k]?.replace(/^sha256:/, '').slice(0, 12) ?? null),
    );
  for (const k of names((r) => r.results))
    add(
      'results',
      k,
      runs.map((r) => text(r.results[k])),
    );
  return rows;
}

/** The table as text: a `*` marks the rows where the runs differ. */
export function compareText(runs: RunSummary[], rows: CompareRow[]): string {
  const head = ['', ...runs.map((r) => r.workflowId)];
  const body = rows.map((r) => [
    `${r.differs ? '*' : ' '} ${r.section === 'run' ? '' : `${r.section}.`}${r.name}`,
    ...r.values.map((v) => v ?? '–'),
  ]);
  return `${columns([head, ...body])}\n* the runs differ\n`;
}

/** Rows of cells as aligned text columns, two spaces apart. */
function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/**
 * One line per run (`mlpipe runs`): id, status, start; with `metrics`, the params that differ
 * between the runs and every numeric or boolean result.
 */
export function runsTable(runs: RunSummary[], rows: CompareRow[], metrics: boolean): string {
  const cols = metrics
    ? rows.filter(
        (r) =>
          (r.section === 'params' && r.differs) ||
          (r.section === 'results' && r.values.some((v) => v !== null && /^(-?[\d.e+-]+|true|false)$/.test(v))),
      )
    : [];
  const head = ['run', 'status', 'started', ...cols.map((c) => (c.section === 'params' ? `params.${c.name}` : c.name))];
  const body = runs.map((r, i) => [
    r.workflowId,
    r.status,
    (r.startTime ?? '').replace('T', ' ').slice(0, 19),
    ...cols.map((c) => c.values[i] ?? '–'),
  ]);
  return columns([head, ...body]);
}
