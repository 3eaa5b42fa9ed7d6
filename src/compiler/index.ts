/** The compiler's front door: a pipeline file and `--param`s in, a plan (or a SpecError) out. */
import { dirname, resolve } from 'node:path';
import { SpecError, type Diagnostic } from '../spec/diagnostics.ts';
import { validateFile } from '../spec/validate.ts';
import { compile } from './compile.ts';
import type { Plan } from '../core/plan.ts';
import { sourceInfo, type SourceInfo } from './source.ts';

export { compile } from './compile.ts';
export type { Plan } from '../core/plan.ts';
export { SpecError } from '../spec/diagnostics.ts';

export interface CompileResult {
  plan: Plan;
  source: SourceInfo;
  /** Located warnings of a valid spec (a large plan). */
  warnings: Diagnostic[];
}

export async function compileFile(file: string, opts: { params?: Record<string, string> } = {}): Promise<CompileResult> {
  const result = await validateFile(file, opts.params ?? {});
  if (!result.valid) throw new SpecError(result.diagnostics);
  const source = sourceInfo(file);
  const plan = compile(result.valid, {
    baseDir: dirname(resolve(file)),
    ...(source.repoDir !== undefined ? { repoDir: source.repoDir } : {}),
  });
  return { plan, source, warnings: result.diagnostics.filter((d) => d.severity === 'warning') };
}
