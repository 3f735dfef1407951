/**
 * The serialized form of a fitted feature encoder (encoder.json), kept apart from the runtime class
 * like tfjs-layers keeps `getConfig` apart from layer objects. Readers accept every older version
 * and upgrade it step by step to the current one, so a model trained today is still served after the
 * encoder grows.
 *
 *   v0  the pre-release draft layout (snake_case keys, no hash seed, no session-state features);
 *       no released model used it, it is kept as the fixture that exercises the upgrade chain.
 *   v1  the generator's seven event types as a fixed vocabulary; cart state read the generator's
 *       event names.
 *   v2  current: the event-type vocabulary is fitted on the training split like device and referrer,
 *       and the roles (roles.ts) are stored with the encoder. A v1 encoder becomes a v2 one with its
 *       event types kept in their order and the default roles, which are the names v1 read: it
 *       encodes every event exactly as before.
 */
import { z } from 'zod';
import { IntentstreamError } from '../errors.js';
import { DEFAULT_ROLES, ROLE_NAMES, conflictingRoles } from './roles.js';

export const ENCODER_VERSION = 2;

/** Numeric features every encoder produces, in this order. */
export const BASE_NUMERIC_FEATURES = [
  'log_price',
  'log_gap_s',
  'log_elapsed_s',
  'log_step',
  'hour_sin',
  'hour_cos',
  'dow_sin',
  'dow_cos',
] as const;

/** Numeric features from earlier events of the session (items and cart), appended when sessionState is on. */
export const SESSION_STATE_FEATURES = [
  'same_item_as_previous',
  'item_seen_before',
  'item_in_cart',
  'item_removed_before',
  'log_since_item_carted_s',
  'log_cart_size',
] as const;

export function numericFeatureNames(sessionState: boolean): string[] {
  return sessionState ? [...BASE_NUMERIC_FEATURES, ...SESSION_STATE_FEATURES] : [...BASE_NUMERIC_FEATURES];
}

const vocab = z.array(z.string()).refine((v) => new Set(v).size === v.length, 'values must be distinct');
const positiveInt = z.number().int().positive();

const v1Fields = {
  maxSteps: positiveInt,
  hashSeed: z.number().int().min(0).max(4_294_967_295),
  itemBuckets: positiveInt,
  categoryBuckets: positiveInt,
  eventTypes: vocab,
  devices: vocab,
  referrers: vocab,
  sessionState: z.boolean(),
  numericFeatures: z.array(z.string()),
};

function checkNumericFeatures(
  spec: { sessionState: boolean; numericFeatures: string[] },
  ctx: z.RefinementCtx,
): void {
  const expected = numericFeatureNames(spec.sessionState);
  if (JSON.stringify(spec.numericFeatures) !== JSON.stringify(expected)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['numericFeatures'],
      message: `expected ${expected.join(', ')} for sessionState=${spec.sessionState}`,
    });
  }
}

const encoderSpecV1 = z
  .object({ version: z.literal(1), ...v1Fields })
  .strict()
  .superRefine(checkNumericFeatures);

const eventTypeList = z.array(z.string().min(1));
export const rolesSchema = z
  .object(
    Object.fromEntries(ROLE_NAMES.map((r) => [r, eventTypeList])) as Record<
      (typeof ROLE_NAMES)[number],
      typeof eventTypeList
    >,
  )
  .strict()
  .superRefine((roles, ctx) => {
    const conflicts = conflictingRoles(roles);
    if (conflicts.length > 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `an event type can play one role only: ${conflicts.join('; ')}`,
      });
    }
  });

export const encoderSpecV2 = z
  .object({ version: z.literal(2), ...v1Fields, roles: rolesSchema })
  .strict()
  .superRefine(checkNumericFeatures);
export type EncoderSpec = z.output<typeof encoderSpecV2>;

const encoderSpecV0 = z
  .object({
    version: z.literal(0),
    max_len: positiveInt,
    event_vocab: vocab,
    device_vocab: vocab,
    referrer_vocab: vocab,
    item_buckets: positiveInt,
    category_buckets: positiveInt,
  })
  .strict();

export class EncoderFormatError extends IntentstreamError {
  override name = 'EncoderFormatError';
}

function upgradeV0(v0: z.output<typeof encoderSpecV0>): unknown {
  return {
    version: 1,
    maxSteps: v0.max_len,
    hashSeed: 0,
    itemBuckets: v0.item_buckets,
    categoryBuckets: v0.category_buckets,
    eventTypes: v0.event_vocab,
    devices: v0.device_vocab,
    referrers: v0.referrer_vocab,
    sessionState: false,
    numericFeatures: numericFeatureNames(false),
  };
}

function upgradeV1(v1: z.output<typeof encoderSpecV1>): unknown {
  return { ...v1, version: 2, roles: structuredClone(DEFAULT_ROLES) };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new EncoderFormatError(`invalid ${what}: ${issues.join('; ')}`);
}

/** Validates a serialized encoder of any known version and returns it as the current version. */
export function upgradeEncoderSpec(json: unknown): EncoderSpec {
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version !== 'number') throw new EncoderFormatError('encoder.json has no numeric "version"');
  if (version > ENCODER_VERSION) {
    throw new EncoderFormatError(
      `encoder.json version ${version} is newer than this build understands (${ENCODER_VERSION}); upgrade intentstream`,
    );
  }
  let current: unknown = json;
  if (version === 0) current = upgradeV0(parse(encoderSpecV0, json, 'encoder v0'));
  if ((current as { version: number }).version === 1) {
    current = upgradeV1(parse(encoderSpecV1, current, 'encoder v1'));
  }
  return parse(encoderSpecV2, current, `encoder v${ENCODER_VERSION}`);
}
