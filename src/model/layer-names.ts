/**
 * The names of the model's layers (model/lstm.ts builds them), which the scorer's weight extraction
 * and the webgpu training step find its parts by. A dependency-free module, so the scorer can use it
 * without loading the trainer.
 */
export const NUMERIC_INPUT = 'numeric';
export const NUMERIC_INPUT_LAYER = `${NUMERIC_INPUT}_input`;
/** The concatenation of the embeddings (CATEGORICAL_INPUTS order) and the numeric input. */
export const STEP_FEATURES_LAYER = 'step_features';
export const OUTPUT_LAYER = 'purchase_probability';
/** The embedding layer of categorical input `name`. */
export const embeddingLayerName = (name: string) => `${name}_embedding`;
