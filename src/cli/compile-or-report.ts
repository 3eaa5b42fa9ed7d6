import { readFile } from 'node:fs/promises';
import { compileFile, type CompileResult } from '../compiler/index.ts';
import { SpecError } from '../spec/diagnostics.ts';
import { renderHuman } from './diagnostics-output.ts';
import { ReportedFailure, UsageError } from './errors.ts';

const RUN_PARAM_CODES = new Set(['params.unknown-override', 'params.override-type', 'params.missing']);

/** Compiles a pipeline file; on invalid input prints the located diagnostics and exits 1. */
export async function compileOrReport(file: string, params: Record<string, string> = {}): Promise<CompileResult> {
  try {
    const compiled = await compileFile(file, { params });
    if (compiled.warnings.length) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      for (const d of compiled.warnings) process.stderr.write(renderHuman(d, text) + '\n');
    }
    return compiled;
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    if (err.diagnostics.some((d) => d.code === 'io.read')) throw new UsageError(err.diagnostics[0]!.message);
    // A wrong --param is a mistake in the command line, not in the file: exit 2 like other usage errors.
    if (err.diagnostics.every((d) => RUN_PARAM_CODES.has(d.code))) {
      throw new UsageError(err.diagnostics.map((d) => d.message + (d.hint ? ` (${d.hint})` : '')).join('\n'));
    }
    const text = await readFile(file, 'utf8').catch(() => undefined);
    for (const d of err.diagnostics) process.stderr.write(renderHuman(d, text) + '\n');
    throw new ReportedFailure(`${file} is invalid`);
  }
}
