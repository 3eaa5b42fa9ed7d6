import type { Command } from 'commander';
import * as graph from './graph.ts';
import * as plan from './plan.ts';
import * as schema from './schema.ts';
import * as validate from './validate.ts';
import * as serverCmd from './server.ts';
import * as workerCmd from './worker.ts';
import * as runCmd from './run.ts';
import * as statusCmd from './status.ts';
import * as listCmd from './list.ts';
import * as cancelCmd from './cancel.ts';
import * as retryCmd from './retry.ts';
import * as skipCmd from './skip.ts';
import * as rerunCmd from './rerun.ts';
import * as devCmd from './dev.ts';
import * as serveCmd from './serve.ts';
import * as applyCmd from './apply.ts';
import * as schedulesCmd from './schedules.ts';

/**
 * Every subcommand lives in its own module under this folder and exports `register(program)`.
 * Add one import and one line below per command.
 */
export function registerCommands(program: Command): void {
  validate.register(program);
  plan.register(program);
  graph.register(program);
  schema.register(program);
  serverCmd.register(program);
  workerCmd.register(program);
  runCmd.register(program);
  statusCmd.register(program);
  listCmd.register(program);
  cancelCmd.register(program);
  retryCmd.register(program);
  skipCmd.register(program);
  rerunCmd.register(program);
  devCmd.register(program);
  serveCmd.register(program);
  applyCmd.register(program);
  schedulesCmd.register(program);
}
