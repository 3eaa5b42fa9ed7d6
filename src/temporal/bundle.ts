import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** The workflow bundle's entry (workflows/index.ts). */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

let shared: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * Webpack-bundles the workflows once per process (seconds of CPU); every worker this process
 * creates reuses the same bundle.
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  shared ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: quietLogger,
  }).catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

const noop = () => undefined;
// webpack's progress output is noise on a CLI; errors still throw.
const quietLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (msg: string, meta?: Record<string, unknown>) => console.error(msg, meta ?? ''),
};
