import type { Command } from 'commander';

interface CommandModule {
  register(program: Command): void;
}

/**
 * Every subcommand lives in its own module under this folder and exports `register(program)`;
 * `--help` lists them in this order. A module is imported only when its command runs (or for
 * `--help`), so that `mlpipe validate` does not load the Temporal SDK or TensorFlow.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  // the spec
  validate: () => import('./validate.ts'),
  plan: () => import('./plan.ts'),
  graph: () => import('./graph.ts'),
  schema: () => import('./schema.ts'),
  // local mode
  server: () => import('./server.ts'),
  worker: () => import('./worker.ts'),
  dev: () => import('./dev.ts'),
  doctor: () => import('./doctor.ts'),
  // runs
  run: () => import('./run.ts'),
  status: () => import('./status.ts'),
  list: () => import('./list.ts'),
  cancel: () => import('./cancel.ts'),
  approve: () => import('./approve.ts'),
  retry: () => import('./retry.ts'),
  skip: () => import('./skip.ts'),
  rerun: () => import('./rerun.ts'),
  report: () => import('./report.ts'),
  compare: () => import('./compare.ts'),
  runs: () => import('./runs.ts'),
  // schedules from git
  apply: () => import('./apply.ts'),
  schedules: () => import('./schedules.ts'),
  // the model server
  serve: () => import('./serve.ts'),
  models: () => import('./models.ts'),
  // artifacts
  artifacts: () => import('./artifacts.ts'),
};

/** Registers the command named in `argv` (all of them when none is, or for help). */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const named = argv.slice(2).find((a) => !a.startsWith('-'));
  const wanted = named && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) (await COMMANDS[name]!()).register(program);
}
