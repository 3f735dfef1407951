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
  upgradeEncoderSpec,
} from './spec.js';
export {
  FIRST_VALUE_INDEX,
  NONE_TOKEN,
  OOV_INDEX,
  PAD_INDEX,
  ValueCounter,
  Vocabulary,
} from './vocabulary.js';
