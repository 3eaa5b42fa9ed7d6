// The workflow bundle's entry: every workflow type a worker registers.
export { optimizeStudy } from './optimize-study.ts';
export { pipeline } from './pipeline.ts';
