/**
 * The model stage: backends, the LSTM, the training loop and evaluation. What the registry, the
 * scorer and the schedulers build on: runTraining (one run), predictSessions (score a model on a
 * dataset's sessions) and the EvaluationReport. Saved models (files, candidates, verification, the
 * model card) live in src/registry.
 */
export {
  BACKENDS,
  BackendError,
  type BackendChoice,
  type BackendName,
  type BackendSelection,
  selectBackend,
} from './backend.js';
export { encodeSplit, predictSessions, predictSplit } from './batches.js';
export { CheckpointError, type EpochRecord } from './checkpoint.js';
export * from './evaluate.js';
export { type FusedLstmOptions, type LstmImplementation, fusedLstm, lstmLayer } from './fused-lstm.js';
export { buildModel, type ModelOptions } from './lstm.js';
export { type TrainingRun, TrainingDataError, runFingerprint, runTraining } from './training-run.js';
export { type EvaluationReport, evaluateModel } from './report.js';
export { type TrainResult, train } from './train.js';
