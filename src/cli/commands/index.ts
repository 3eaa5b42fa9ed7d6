import type { Command } from 'commander';
import * as apply from './apply.ts';
import * as approve from './approve.ts';
import * as cancel from './cancel.ts';
import * as dev from './dev.ts';
import * as graph from './graph.ts';
import * as list from './list.ts';
import * as plan from './plan.ts';
import * as report from './report.ts';
import * as rerun from './rerun.ts';
import * as retry from './retry.ts';
import * as run from './run.ts';
import * as schedules from './schedules.ts';
import * as schema from './schema.ts';
import * as serve from './serve.ts';
import * as server from './server.ts';
import * as skip from './skip.ts';
import * as status from './status.ts';
import * as validate from './validate.ts';
import * as worker from './worker.ts';

/**
 * Every subcommand lives in its own module under this folder and exports `register(program)`;
 * `--help` lists them in this order. Modules load their heavy dependencies inside the action,
 * so that `mlpipe --help` stays quick.
 */
const COMMANDS = [
  validate, plan, graph, schema, // the spec
  server, worker, dev, // local mode
  run, status, list, cancel, approve, retry, skip, rerun, report, // runs
  apply, schedules, // schedules from git
  serve, // the model server
];

export function registerCommands(program: Command): void {
  for (const c of COMMANDS) c.register(program);
}
