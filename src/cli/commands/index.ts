import type { Command } from 'commander';
import * as graph from './graph.ts';
import * as plan from './plan.ts';
import * as schema from './schema.ts';
import * as validate from './validate.ts';

/**
 * Every subcommand lives in its own module under this folder and exports `register(program)`.
 * Add one import and one line below per command.
 */
export function registerCommands(program: Command): void {
  validate.register(program);
  plan.register(program);
  graph.register(program);
  schema.register(program);
}
