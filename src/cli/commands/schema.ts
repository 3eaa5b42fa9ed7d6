import type { Command } from 'commander';
import { pipelineSchema } from '../../spec/schema.ts';

export function register(program: Command): void {
  program
    .command('schema')
    .description('Print the pipeline JSON Schema (for editors: `# yaml-language-server: $schema=…`)')
    .action(() => {
      process.stdout.write(JSON.stringify(pipelineSchema, null, 2) + '\n');
    });
}
