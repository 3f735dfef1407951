export {
  type CandidateManifest,
  type DataRange,
  buildManifest,
  candidateVersion,
  saveRunAsCandidate,
  writeCandidate,
} from './candidate.js';
export { type HistoryEntry, MODEL_FILES, isModelVersion, trainLockPath } from './model-dir.js';
export { loadEncoder, loadModel, loadModelFiles, saveEncoder, saveModelFiles } from './model-files.js';
export {
  type ModelEntry,
  type ModelRegistry,
  type PromotionDecision,
  RegistryError,
  type RegistryView,
  createModelRegistry,
  createRegistryView,
  decidePromotion,
} from './registry.js';
export { ModelVerificationError, verifyModelDir, writeChecksums } from './verify.js';
