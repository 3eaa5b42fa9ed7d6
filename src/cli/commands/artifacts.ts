// `mlpipe artifacts ls <run>`, `show <run> <stage>.<output>` and `get <run> <stage>.<output>`: a
// run's artifacts from the store's lineage records (stage, kind, size, digest, what each was made
// from), one of them described (its lineage and content), and one exported: datasets and
// predictions as CSV, JSON or Parquet, a model as a TensorFlow.js directory.
// Output names come from the run's stage outputs when Temporal answers, else from the kinds.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ArtifactRecord, ArtifactStore } from '../../artifacts/index.ts';
import { ARTIFACT_KINDS, isArtifactRef, type ArtifactKind, type ArtifactRef } from '../../core/plan.ts';
import { STAGE_DESCRIPTORS } from '../../spec/stages/index.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import type { RunView } from '../../temporal/runs.ts';
import { UsageError } from '../errors.ts';
import { viewIfReachable } from '../run-view.ts';
import { withStoreOption } from '../store-option.ts';
import { withConnectionOptions } from '../temporal-options.ts';

interface Named extends ArtifactRecord {
  /** `<stage>.<output>`. */
  name: string;
  /** Answered by the step cache: made by another run, whose lineage records the store keeps. */
  cached?: boolean;
}

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

function sizeText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** Each record named `<stage>.<output>`: the stage's output with its digest, else its label or kind. */
function named(records: ArtifactRecord[], view: RunView | undefined): Named[] {
  return records.map((r) => {
    const outs = view?.run?.stages[r.lineage.stage]?.outputs ?? {};
    const out = Object.entries(outs).find(([, v]) => isArtifactRef(v) && v.digest === r.ref.digest)?.[0];
    return { ...r, name: `${r.lineage.stage}.${out ?? r.lineage.name ?? r.ref.kind}` };
  });
}

/** Outputs of stages the step cache answered: another run's artifacts, absent from this run's records. */
function cachedOutputs(view: RunView | undefined, have: Set<string>): Named[] {
  const out: Named[] = [];
  for (const [stage, st] of Object.entries(view?.run?.stages ?? {})) {
    if (!st.cached) continue;
    for (const [name, v] of Object.entries(st.outputs)) {
      if (!isArtifactRef(v) || have.has(v.digest)) continue;
      const lineage = { workflowId: '', runId: '', pipeline: '', stage, attempt: 0, planHash: '', inputs: {} };
      out.push({ ref: v, lineage, createdAt: '', name: `${stage}.${name}`, cached: true });
    }
  }
  return out;
}

async function runRecords(run: string, o: ConnectionFlags): Promise<{ store: ArtifactStore; records: Named[]; view?: RunView }> {
  const { defaultStore } = await import('../../artifacts/index.ts');
  const store = defaultStore();
  const [records, view] = await Promise.all([store.list(run), viewIfReachable(run, o)]);
  const own = named(records, view);
  return { store, records: [...own, ...cachedOutputs(view, new Set(records.map((r) => r.ref.digest)))], view };
}

/** Where each input came from: the artifact of this run with that digest, else the digest. */
function lineageText(r: Named, all: Named[]): string {
  if (r.cached) return '(step cache: made by an earlier run)';
  return Object.entries(r.lineage.inputs)
    .map(([k, d]) => `${k}←${all.find((x) => x.ref.digest === d)?.name ?? short(d)}`)
    .join(' ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function noArtifacts(run: string, store: ArtifactStore): never {
  throw new UsageError(
    `no artifacts of run "${run}" in the store at ${store.location}; check the run id (mlpipe list) and ` +
      'that --store / MLPIPE_STORE names the store the workers use',
  );
}

/** The kind of an output name of any stage kind (`predictions` is a dataset), for runs Temporal no longer has. */
function kindOfOutput(output: string): ArtifactKind | undefined {
  if ((ARTIFACT_KINDS as readonly string[]).includes(output)) return output as ArtifactKind;
  for (const d of Object.values(STAGE_DESCRIPTORS)) {
    // a bare stage of that kind: the artifact outputs never depend on its fields
    const t = d.outputs({ type: d.kind } as never)[output];
    if (t && (ARTIFACT_KINDS as readonly string[]).includes(t)) return t as ArtifactKind;
  }
  return undefined;
}

function splitName(want: string, run: string): [string, string] {
  const dot = want.indexOf('.');
  if (dot <= 0)
    throw new UsageError(
      `name the artifact as <stage>.<output>, e.g. train.model (got "${want}"); \`mlpipe artifacts ls ${run}\` lists them`,
    );
  return [want.slice(0, dot), want.slice(dot + 1)];
}

/** The artifact `<stage>.<output>` names: the run's own output if Temporal has it, else the newest matching record. */
function pick(want: string, records: Named[], view: RunView | undefined, run: string, store: ArtifactStore): ArtifactRef {
  const [stage, output] = splitName(want, run);
  const fromRun = view?.run?.stages[stage]?.outputs[output];
  if (isArtifactRef(fromRun)) return fromRun;
  const kind = kindOfOutput(output);
  const hits = records.filter((r) => r.name === want || (r.lineage.stage === stage && !r.lineage.name && r.ref.kind === kind));
  if (hits.length) return hits.at(-1)!.ref;
  if (!records.length) noArtifacts(run, store);
  throw new UsageError(`run "${run}" has no artifact ${want}; it has: ${[...new Set(records.map((r) => r.name))].join(', ')}`);
}

async function exportArtifact(store: ArtifactStore, ref: ArtifactRef, want: string, o: GetFlags): Promise<void> {
  const format = o.format ?? (ref.kind === 'dataset' ? 'csv' : 'json');
  if (format !== 'csv' && format !== 'json' && format !== 'parquet')
    throw new UsageError(`--format takes csv, json or parquet; got "${format}"`);
  const bytes = await store.get(ref);
  if (ref.kind === 'model') {
    const { writeModelDir } = await import('../artifact-export.ts');
    const dir = resolve(o.output ?? want.replace('.', '-'));
    const files = writeModelDir(bytes, dir);
    process.stdout.write(`${dir}\n`);
    process.stderr.write(`wrote ${files.join(', ')}: load it with tf.loadLayersModel('file://${dir}/model.json')\n`);
    return;
  }
  if (o.split && ref.kind !== 'dataset') throw new UsageError(`--split is for datasets; ${want} is a ${ref.kind}`);
  let text: string | Uint8Array = bytes;
  if (ref.kind === 'dataset') {
    const { decodeDataset } = await import('../../ml/data/dataset.ts');
    const { datasetCsv, datasetJson, datasetParquet, selectSplit } = await import('../artifact-export.ts');
    const ds = selectSplit(decodeDataset(bytes), o.split, want);
    if (format === 'parquet' && !o.output && process.stdout.isTTY) {
      throw new UsageError('Parquet is binary: write it to a file with -o <file>.parquet (or pipe it)');
    }
    text = format === 'csv' ? datasetCsv(ds) : format === 'json' ? datasetJson(ds) : datasetParquet(ds);
  } else if (format !== 'json') {
    throw new UsageError(`${want} is a ${ref.kind} (JSON); ${format === 'csv' ? 'CSV' : 'Parquet'} is for datasets: use --format json`);
  }
  if (o.output) writeFileSync(o.output, text);
  else process.stdout.write(text);
}

interface GetFlags extends ConnectionFlags {
  format?: string;
  split?: string;
  output?: string;
}

export function register(program: Command): void {
  const artifacts = program
    .command('artifacts')
    .description(
      "a run's artifacts: list them with their lineage, show one, export one (datasets as CSV/JSON/Parquet, models for TensorFlow.js)",
    );

  withConnectionOptions(
    withStoreOption(
      artifacts.command('ls <run>').description("a run's artifacts: stage.output, kind, size, digest, inputs").option('--json', 'as JSON'),
    ),
  ).action(async (run: string, o: ConnectionFlags & { json?: boolean }) => {
    const { store, records } = await runRecords(run, o);
    if (!records.length) noArtifacts(run, store);
    if (o.json) return void process.stdout.write(`${JSON.stringify(records, null, 1)}\n`);
    const rows = [['ARTIFACT', 'KIND', 'SIZE', 'DIGEST', 'CREATED', 'FROM']];
    for (const r of records)
      rows.push([
        r.name,
        r.ref.kind,
        sizeText(r.ref.sizeBytes),
        short(r.ref.digest),
        r.createdAt.replace(/\.\d+Z$/, 'Z') || '-',
        lineageText(r, records),
      ]);
    process.stdout.write(table(rows));
  });

  withConnectionOptions(
    withStoreOption(
      artifacts
        .command('show <run> <artifact>')
        .description("one artifact: kind, digest, where it is, the stage that made it and from what, and its content's shape")
        .option('--json', 'as JSON'),
    ),
  ).action(async (run: string, want: string, o: ConnectionFlags & { json?: boolean }) => {
    splitName(want, run);
    const { store, records, view } = await runRecords(run, o);
    const ref = pick(want, records, view, run, store);
    const rec = records.find((r) => r.ref.digest === ref.digest);
    const { describeContent } = await import('../artifact-export.ts');
    const about = {
      artifact: want,
      kind: ref.kind,
      digest: ref.digest,
      uri: ref.uri,
      size: ref.sizeBytes,
      ...(rec?.cached
        ? { madeBy: '(step cache: an earlier run)' }
        : rec
          ? { madeBy: `${rec.lineage.stage} (attempt ${rec.lineage.attempt}) of ${rec.lineage.workflowId}`, created: rec.createdAt }
          : {}),
      ...(rec && !rec.cached ? { from: lineageText(rec, records) || '(no inputs)' } : {}),
      ...describeContent(ref.kind, Buffer.from(await store.get(ref))),
    };
    if (o.json) return void process.stdout.write(`${JSON.stringify(about, null, 1)}\n`);
    const { json, ...fields } = about as typeof about & { json?: unknown };
    const text = (v: unknown) =>
      typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join(', ') : JSON.stringify(v);
    const w = Math.max(...Object.keys(fields).map((k) => k.length));
    for (const [k, v] of Object.entries(fields)) process.stdout.write(`${k.padEnd(w)}  ${text(v)}\n`);
    if (json !== undefined) {
      const doc = JSON.stringify(json, null, 1);
      process.stdout.write(
        `${doc.length > 4000 ? `${doc.slice(0, 4000)}\n… (${doc.length} characters: --json or \`get\` for all)` : doc}\n`,
      );
    }
  });

  withConnectionOptions(
    withStoreOption(
      artifacts
        .command('get <run> <artifact>')
        .description(
          'export <stage>.<output>: a dataset or predictions as CSV/JSON (--split for one split), a model as a ' +
            'TensorFlow.js layers model directory',
        )
        .option('--format <format>', 'csv (datasets, default), json or parquet (datasets)')
        .option('--split <split>', 'only this split of a dataset: train, validation or test')
        .option('-o, --output <path>', 'file to write (default stdout); for a model, the directory (default ./<stage>-<output>)'),
    ),
  ).action(async (run: string, want: string, o: GetFlags) => {
    splitName(want, run); // a malformed name fails before any look-up
    const { store, records, view } = await runRecords(run, o);
    await exportArtifact(store, pick(want, records, view, run, store), want, o);
  });
}
