import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import type { ValidationResult } from '../../spec/validate.ts';
import type { OutputFormat } from '../diagnostics-output.ts';
import { oneOf } from '../options.ts';
import { pipelineFiles } from '../pipeline-files.ts';

export function register(program: Command): void {
  program
    .command('validate')
    .description('Check pipeline files against the schema and the semantic rules (exit 0 valid, 1 invalid, 2 usage error)')
    .argument('<paths...>', 'pipeline files, or directories to search for .yaml/.yml files')
    .option(
      '-f, --format <format>',
      'human, json or github (GitHub Actions annotations)',
      oneOf(['human', 'json', 'github'] as const),
      'human',
    )
    .action(async (paths: string[], opts: { format: OutputFormat }) => {
      // Loaded here, not at the top: `mlpipe --help` and other commands stay fast.
      const { validateFile } = await import('../../spec/validate.ts');
      const { renderGithub, renderHuman } = await import('../diagnostics-output.ts');
      const files = await pipelineFiles(paths);
      const results: ValidationResult[] = [];
      for (const f of files) results.push(await validateFile(f));
      const invalid = results.filter((r) => !r.valid);
      if (opts.format === 'json') {
        const out = {
          valid: invalid.length === 0,
          files: results.map((r) => ({ file: r.file, valid: !!r.valid, diagnostics: r.diagnostics })),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else if (opts.format === 'github') {
        for (const r of results) for (const d of r.diagnostics) process.stdout.write(renderGithub(d) + '\n');
      } else {
        for (const r of results) {
          if (r.valid) process.stdout.write(`✓ ${r.file}\n`);
          if (r.diagnostics.length === 0) continue;
          const text = await readFile(r.file, 'utf8').catch(() => undefined);
          for (const d of r.diagnostics) process.stdout.write(renderHuman(d, text) + '\n');
        }
        const errors = invalid.reduce((n, r) => n + r.diagnostics.length, 0);
        process.stdout.write(
          invalid.length === 0
            ? `${results.length} pipeline file${results.length === 1 ? '' : 's'} valid\n`
            : `${invalid.length} of ${results.length} file${results.length === 1 ? '' : 's'} invalid (${errors} ` +
                `error${errors === 1 ? '' : 's'})\n`,
        );
      }
      process.exitCode = invalid.length ? 1 : 0;
    });
}
