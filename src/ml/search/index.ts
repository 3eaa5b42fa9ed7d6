// Hyper-parameter search: spaces (space.ts), samplers (grid.ts, tpe.ts with parzen.ts and
// truncnorm.ts), ASHA early stopping (asha.ts), the ask/tell study over a trial table (study.ts,
// trials.ts) and the in-process search the optimize stage runs today (search.ts).
export { AshaOptionsError, checkAshaOptions, rungStep, shouldPrune, type AshaOptions } from './asha.ts';
export { setPath } from './config-path.ts';
export { GRID_POINTS, gridParams } from './grid.ts';
export { search, StopSearch, type Method, type SearchOptions, type TrialRecord } from './search.ts';
export { checkSpace, sampleParams, SpaceError, walkSpace, type ChoiceValue, type Dimension, type ParamValues, type Scalar, type Space } from './space.ts';
export { Study, StudyError, trialSeed, type SearchMethod, type StudyOptions } from './study.ts';
export { tpeParams, type TpeOptions } from './tpe.ts';
export { bestTrial, better, type Direction, type Trial, type TrialState } from './trials.ts';
