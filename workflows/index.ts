// The workflow bundle's entry: every workflow type a worker registers.
export { pipeline } from './pipeline.ts';
