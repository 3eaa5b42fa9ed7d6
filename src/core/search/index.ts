// Hyper-parameter search, workflow-safe (pure, seeded, no I/O): spaces (space.ts), samplers
// (grid.ts, tpe.ts with parzen.ts and truncnorm.ts), ASHA early stopping (asha.ts) and the
// ask/tell study over a trial table (study.ts, trials.ts). The optimizeStudy workflow drives a
// Study; src/ml/search/search.ts is the older in-process loop.
export { AshaOptionsError, checkAshaOptions, rungStep, shouldPrune, type AshaOptions } from './asha.ts';
export { setPath } from './config-path.ts';
export { driveStudy, legBudgets, studyTrial, type DriveOptions, type DriveResult, type Leg, type LegResult } from './drive.ts';
export { GRID_POINTS, gridParams } from './grid.ts';
export {
  checkSpace,
  sampleParams,
  SpaceError,
  walkSpace,
  type ChoiceValue,
  type Dimension,
  type ParamValues,
  type Scalar,
  type Space,
} from './space.ts';
export { Study, StudyError, trialSeed, type SearchMethod, type StudyOptions } from './study.ts';
export { tpeParams, type TpeOptions } from './tpe.ts';
export { bestTrial, better, copyTrial, type Direction, type Trial, type TrialState } from './trials.ts';
