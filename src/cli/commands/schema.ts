import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('schema')
    .description('Print the pipeline JSON Schema (for editors: `# yaml-language-server: $schema=…`)')
    .action(async () => {
      const { pipelineSchema } = await import('../../spec/schema.ts');
      process.stdout.write(JSON.stringify(pipelineSchema, null, 2) + '\n');
    });
}
