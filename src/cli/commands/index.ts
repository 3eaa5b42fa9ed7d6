import type { Command } from 'commander';

/**
 * Every subcommand lives in its own module under this folder and exports `register(program)`.
 * Add one import and one line below per command.
 */
export function registerCommands(program: Command): void {
  void program;
}
