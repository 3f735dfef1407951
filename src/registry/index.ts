export {
  type HistoryEntry,
  MODEL_FILES,
  type ModelEntry,
  type ModelRegistry,
  type PromotionDecision,
  RegistryError,
  createModelRegistry,
  decidePromotion,
} from './registry.js';
