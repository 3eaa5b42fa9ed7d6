// Hyper-parameter search: the pure library lives in src/core/search (the optimizeStudy workflow
// drives it); this adds the in-process search older optimize activities run (search.ts).
export * from '../../core/search/index.ts';
export { search, StopSearch, type Method, type SearchOptions, type TrialRecord } from './search.ts';
