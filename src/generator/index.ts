/** Public API of the seeded synthetic traffic generator. */
export {
  BROWSE_EVENT_TYPES,
  DEVICES,
  IDLE_SPLIT_PROBABILITY,
  IntentTracker,
  REFERRERS,
  contextLogit,
  hourEffect,
  purchaseProbability,
  stepsFromEvents,
  utcHour,
} from './behaviour.js';
export type { BehaviourStep, BrowseEventType, Device, Referrer, SessionContext } from './behaviour.js';
export { Catalogue, priceOf } from './catalogue.js';
export {
  DAY_MS,
  DEFAULT_START_TIME,
  MAX_DUPLICATE_DELAY_MS,
  MAX_OUT_OF_ORDER_MS,
  createGenerator,
  resolveOptions,
} from './generator.js';
export type { TrafficGenerator } from './generator.js';
export { Rng, WeightedTable, createRng, fmix32, hash32, hex8 } from '../util/random.js';
export { fileFormatOf, writeItemsToFile } from './file-sink.js';
export type { FileFormat, FileSinkOptions } from './file-sink.js';
export { createPacer } from './pacer.js';
export type { PacerOptions } from './pacer.js';
export { canonicalEvent, toNdjsonLine } from './sink.js';
export { MALFORMED_CLASSES } from './types.js';
export type {
  EventItem,
  GeneratedItem,
  GeneratorOptions,
  MalformedClass,
  MalformedItem,
  ResolvedGeneratorOptions,
  SessionEndItem,
  SessionOutcome,
} from './types.js';
export {
  OUR_ROLES,
  SHOP2_EVENT_TYPES,
  SHOP2_NOISE_EVENTS,
  SHOP2_ROLES,
  TAXONOMY_NAMES,
  taxonomyOf,
} from './taxonomy.js';
export type { ShopRoles, Taxonomy, TaxonomyName } from './taxonomy.js';
