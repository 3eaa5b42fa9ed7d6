import type { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { ReportedFailure, UsageError } from '../errors.ts';
import { oneOf } from '../options.ts';
import { pipelineFiles } from '../pipeline-files.ts';
import { withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';

interface ApplyFlags extends ConnectionFlags {
  dryRun?: boolean;
  allowEmpty?: boolean;
  format: 'human' | 'json' | 'github';
  scope: string;
  taskQueue?: string;
  workersRoot?: string;
}

const MARK = { create: '+', update: '~', delete: '-', unchanged: '=', conflict: '!' } as const;

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('apply')
      .description('make the Temporal Schedules match the pipelines in a directory (create, update, delete; validates everything first)')
      .argument('<paths...>', 'pipeline files, or directories to search for .yaml/.yml files')
      .option('--dry-run', 'print what would change, change nothing')
      .option('--allow-empty', 'with no pipeline files at all, delete every schedule of the scope')
      .option(
        '--format <format>',
        'human, json, or github (invalid files as GitHub Actions annotations, the rest as human)',
        oneOf(['human', 'json', 'github'] as const),
        'human',
      )
      .option('--scope <name>', 'only schedules applied with this scope are updated or deleted (one per repo or team)', 'default')
      .option('--task-queue <q>', 'workflow task queue of scheduled runs (default mlpipe)')
      .option('--workers-root <path>', 'where the workers see the directory given to apply (collect stages resolve relative paths there)'),
  ).action(async (paths: string[], o: ApplyFlags) => {
    const { loadDesired, planChanges, executeChanges, summary } = await import('../../schedules/apply.ts');
    const { renderGithub, renderHuman } = await import('../diagnostics-output.ts');
    const { clientFrom } = await import('../temporal-options.ts');
    const json = o.format === 'json';
    // An emptied directory is a valid state (its schedules go), but deleting all is confirmed below.
    const files = await pipelineFiles(paths, { allowEmpty: true });
    if (o.workersRoot && (paths.length !== 1 || !(await stat(paths[0]!)).isDirectory())) {
      throw new UsageError('--workers-root needs exactly one directory to apply');
    }
    const loaded = await loadDesired(files, {
      scope: o.scope,
      ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
      ...(o.workersRoot ? { workersRoot: o.workersRoot, root: paths[0]! } : {}),
    });
    if (loaded.invalid.length || loaded.errors.length) {
      if (json) {
        const out = {
          applied: false,
          errors: loaded.errors,
          files: loaded.invalid.map((r) => ({ file: r.file, diagnostics: r.diagnostics })),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else {
        for (const r of loaded.invalid) {
          const text = await readFile(r.file, 'utf8').catch(() => undefined);
          for (const d of r.diagnostics) {
            // Annotations are read from stdout by the Actions runner; people read stderr.
            if (o.format === 'github') process.stdout.write(renderGithub(d) + '\n');
            else process.stderr.write(renderHuman(d, text) + '\n');
          }
        }
        for (const e of loaded.errors) process.stderr.write(`error: ${e}\n`);
        process.stderr.write(
          `nothing applied: ${loaded.invalid.length} of ${files.length} files ` +
            `invalid${loaded.errors.length ? `, ${loaded.errors.length} other error(s)` : ''}\n`,
        );
      }
      throw new ReportedFailure('invalid pipelines');
    }
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    const client = await clientFrom(o);
    try {
      const changes = await planChanges(client, loaded, o.scope);
      const deletes = changes.filter((c) => c.action === 'delete');
      if (files.length === 0 && deletes.length && !o.dryRun && !o.allowEmpty) {
        throw new UsageError(
          `no pipeline files in ${paths.join(', ')}: applying would delete all ${deletes.length} schedule(s) of scope "${o.scope}" ` +
            `(${deletes.map((c) => c.scheduleId).join(', ')}); pass --allow-empty to confirm, or --dry-run to look first`,
        );
      }
      const conflicts = changes.filter((c) => c.action === 'conflict');
      if (!conflicts.length && !o.dryRun) await executeChanges(client, changes);
      const applied = !conflicts.length && !o.dryRun;
      if (json) {
        const out = {
          applied,
          dryRun: !!o.dryRun,
          scope: o.scope,
          warnings: loaded.warnings,
          changes: changes.map(({ desired, ...c }) => ({
            ...c,
            ...(desired ? { planHash: desired.plan.hash, gitSha: desired.source.gitSha ?? null } : {}),
          })),
          summary: summary(changes),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else {
        for (const c of changes) {
          if (c.action === 'unchanged') continue;
          const verb =
            o.dryRun || c.action === 'conflict' ? c.action : { create: 'created', update: 'updated', delete: 'deleted' }[c.action];
          process.stdout.write(`${MARK[c.action]} ${verb} ${c.scheduleId}${c.file ? ` (${c.file})` : ''}\n`);
          for (const d of c.details) process.stdout.write(`    ${d}\n`);
        }
        process.stdout.write(`${o.dryRun ? 'dry run: ' : ''}${summary(changes)}\n`);
        if (conflicts.length) process.stderr.write('nothing applied: schedules not made by mlpipe are in the way\n');
      }
      if (conflicts.length) throw new ReportedFailure('conflicts');
    } finally {
      await client.connection.close();
    }
  });
}
