/** Feature encoding shared by the trainer and the live scorer. */
export {
  CATEGORICAL_COUNT,
  CATEGORICAL_INPUTS,
  type CategoricalInput,
  type EncodedStep,
  type EncodedSteps,
  type EncoderOptions,
  type ItemState,
  type ItemStore,
  FeatureEncoder,
  type PaddedSequence,
  type StepEvent,
  type StepState,
  stepStateFromJSON,
  stepStateToJSON,
} from './encoder.js';
export { hashBucket, stableHash32 } from './hash.js';
export {
  BASE_NUMERIC_FEATURES,
  ENCODER_VERSION,
  EncoderFormatError,
  type EncoderSpec,
  SESSION_STATE_FEATURES,
  numericFeatureNames,
  rolesSchema,
  upgradeEncoderSpec,
} from './spec.js';
export {
  DEFAULT_ROLES,
  type EventRoles,
  ROLE_NAMES,
  type Role,
  RoleMap,
  conflictingRoles,
} from './roles.js';
export {
  FIRST_VALUE_INDEX,
  NONE_TOKEN,
  OOV_INDEX,
  PAD_INDEX,
  ValueCounter,
  Vocabulary,
  type VocabularyFitOptions,
} from './vocabulary.js';
export {
  type EventTypeReport,
  type OutOfVocabularyCount,
  countOutOfVocabulary,
  eventTypeReport,
  eventTypeReportFromCounts,
} from './event-type-report.js';
