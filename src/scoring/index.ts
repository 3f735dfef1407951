export {
  type StepInput,
  type StepModel,
  type StepOutput,
  type ModelSource,
  IncompatibleModelError,
  checkModel,
} from './model.js';
export {
  type CountingParams,
  type CountingState,
  CORRUPT_MARKER,
  COUNTING_PARAMS_FILE,
  DEFAULT_COUNTING_PARAMS,
  STATE_SIZE,
  countingModelFactory,
  createCountingStepModel,
} from './counting-model.js';
export { type ModelFactory, createRegistryModelSource } from './registry-source.js';
export {
  EMIT_POLICIES,
  type EmitDecision,
  type EmitMemory,
  type EmitPolicyName,
  createEmitDecision,
} from './emission.js';
export { type LiveSession, type RebuildPoint, PartitionSessions, SessionTable } from './sessions.js';
export { type BatchItem, type BatchOutcome, ScorerCore } from './core.js';
export { type CommitMetadata, decodeCommitMetadata, encodeCommitMetadata } from './commit-metadata.js';
export { type ModelWatcher, createModelWatcher } from './reload.js';
export { type BatchInfo, type ScorerProcess, createScorer } from './scorer.js';
