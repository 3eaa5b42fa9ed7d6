import type { Command } from 'commander';
import { collectParam, oneOf } from '../options.ts';

export function register(program: Command): void {
  program
    .command('graph')
    .description('Print the pipeline DAG as Mermaid and DOT, and its execution levels')
    .argument('<file>', 'pipeline file')
    .option('-f, --format <format>', 'mermaid, dot, levels or all', oneOf(['mermaid', 'dot', 'levels', 'all'] as const), 'all')
    .option('-p, --param <name=value>', 'set a param (repeatable)', collectParam, {})
    .action(async (file: string, opts: { format: 'mermaid' | 'dot' | 'levels' | 'all'; param: Record<string, string> }) => {
      const { compileOrReport } = await import('../compile-or-report.ts');
      const { toDot, toLevels, toMermaid } = await import('../../compiler/graph.ts');
      const { plan } = await compileOrReport(file, opts.param);
      const out = {
        mermaid: () => toMermaid(plan),
        dot: () => toDot(plan),
        levels: () => toLevels(plan),
        all: () => `# Mermaid\n${toMermaid(plan)}\n# DOT\n${toDot(plan)}\n# Execution levels\n${toLevels(plan)}`,
      }[opts.format];
      process.stdout.write(out());
    });
}
