/** Training datasets from stored timelines: labels, observable prefixes, time split, prefix sampling. */
export { shuffleEventOrder } from './ablation.js';
export {
  buildDataset,
  type Dataset,
  type DatasetOptions,
  type DatasetSession,
  type DatasetSplit,
  type DatasetSummary,
  datasetSession,
  type Example,
  type SplitSummary,
  type WindowSummary,
} from './dataset.js';
export {
  type CutReason,
  DEFAULT_LABELS,
  type LabeledSession,
  MissingTargetError,
  type ResolvedLabels,
  checkTargetPresent,
  labelClasses,
  labelSession,
  resolveLabels,
} from './labels.js';
export {
  DatasetPlan,
  DatasetScanner,
  type DatasetTally,
  type LeftOut,
  type PlacedSession,
} from './plan.js';
export { samplePrefixLengths, sessionPrefixLengths } from './prefixes.js';
export {
  SPLIT_NAMES,
  type SplitBoundaries,
  type SplitFractions,
  type SplitItem,
  type SplitName,
  type TimeSplit,
  splitBoundaries,
  timeSplit,
  windowOf,
} from './split.js';
