/**
 * The model stage: backends, the LSTM, the training loop, evaluation and model files. What the
 * registry, the scorer and the schedulers build on: runTraining (one run), loadModel /
 * predictSessions (score any saved model on a dataset's sessions), the EvaluationReport and the
 * candidate manifest.
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
export {
  type CandidateManifest,
  type DataRange,
  buildManifest,
  candidateVersion,
  writeCandidate,
} from './candidate.js';
export { CheckpointError, type EpochRecord } from './checkpoint.js';
export * from './evaluate.js';
export { loadModel, loadModelFiles, saveEncoder, saveModelFiles } from './io.js';
export { type FusedLstmOptions, type LstmImplementation, fusedLstm, lstmLayer } from './fused-lstm.js';
export { buildModel, type ModelOptions } from './lstm.js';
export { type TrainingRun, TrainingDataError, runFingerprint, runTraining } from './pipeline.js';
export { type EvaluationReport, evaluateModel } from './report.js';
export { type TrainResult, train } from './train.js';
