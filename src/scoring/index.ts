export {
  type StepInput,
  type StepModel,
  type StepOutput,
  type ModelSource,
  IncompatibleModelError,
  checkModel,
} from './model.js';
export { createLstmStepModel, lstmModelFactory, lstmStepModelFrom } from './lstm-model.js';
export { LstmState } from './lstm-state.js';
export { ACTIVATIONS, type LstmWeights, extractLstmWeights } from './lstm-weights.js';
export { type ModelFactory, createRegistryModelSource } from './registry-source.js';
export {
  EMIT_POLICIES,
  type EmitDecision,
  type EmitMemory,
  type EmitPolicyName,
  createEmitDecision,
} from './emission.js';
export { type LiveSession, type RebuildPoint, PartitionSessions, SessionTable } from './live-sessions.js';
export { type BatchItem, type BatchOutcome, ScorerCore } from './core.js';
export { type CommitMetadata, decodeCommitMetadata, encodeCommitMetadata } from './commit-metadata.js';
export { type ModelWatcher, createModelWatcher } from './reload.js';
export { type BatchInfo, PARTITIONS_IN_FLIGHT, type ScorerProcess, createScorer } from './service/scorer.js';
