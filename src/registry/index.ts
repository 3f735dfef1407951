export {
  type CandidateManifest,
  type DataRange,
  buildManifest,
  candidateVersion,
  saveRunAsCandidate,
  writeCandidate,
} from './candidate.js';
export { createModelStoreFromConfig, createRegistryViewFromConfig } from './from-config.js';
export {
  type HistoryEntry,
  MODEL_FILES,
  createLocalModelStore,
  isModelVersion,
  trainLockPath,
} from './model-dir.js';
export type { CurrentRead, ModelStore } from './model-store.js';
export { createObjectModelStore } from './model-store-objects.js';
export { loadEncoder, loadModel, loadModelFiles, saveEncoder, saveModelFiles } from './model-files.js';
export {
  type ModelEntry,
  type ModelRegistry,
  type PromotionDecision,
  RegistryError,
  type RegistryOptions,
  type RegistryView,
  createModelRegistry,
  createRegistryView,
  decidePromotion,
} from './registry.js';
export { ModelVerificationError, verifyModelDir, writeChecksums } from './verify.js';
