import type { Command } from 'commander';
import { collectParam } from '../options.ts';

export function register(program: Command): void {
  program
    .command('plan')
    .description('Compile a pipeline and print its plan (the workflow input) as JSON')
    .argument('<file>', 'pipeline file')
    .option('-p, --param <name=value>', 'set a param (repeatable)', collectParam, {})
    .action(async (file: string, opts: { param: Record<string, string> }) => {
      const { compileOrReport } = await import('../compile-or-report.ts');
      const { plan } = await compileOrReport(file, opts.param);
      process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    });
}
