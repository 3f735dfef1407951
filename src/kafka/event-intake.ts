import type { KafkaMessage, Message } from 'kafkajs';
import type { Config } from '../config/index.js';
import type { DecodeResult, Rejection } from '../schemas/index.js';
import { type DeadLetterReason, deadLetterMessage } from './dead-letter.js';
import { decodeMessage, eventDecoderFor } from './decode-message.js';

/** The counters a service keeps for its input (labels: outcome; reason). */
export interface IntakeCounters {
  events: { inc(labels: { outcome: string }, value?: number): void };
  deadLetters: { inc(labels: { reason: string }, value?: number): void };
}

export interface EventIntake {
  /** Fetches the writer schemas a batch refers to (schema registry), before decode(). */
  prepare(messages: readonly KafkaMessage[]): Promise<void>;
  /** Decodes one message (no side effects: a replayed message decodes exactly as the first time). */
  decode(message: KafkaMessage): DecodeResult;
  /** Counts a message the decoder rejected (outcome "rejected") and returns its dead letter. */
  reject(partition: number, message: KafkaMessage, rejection: Rejection): Message;
  /** A dead letter for a message the service itself refuses (e.g. a late event), counted by reason. */
  refuse(partition: number, message: KafkaMessage, why: DeadLetterReason): Message;
}

/**
 * Decode → reject → dead letter for a consumer of the events topic: the decoder from config (size
 * limit, schema registry, `sessions.maxFutureSkew`), rejected input counted under outcome "rejected"
 * and turned into a dead letter with its reason. `consumerGroup` names the group in the dead letter's
 * headers (the scorer sets it: two groups read the same topic).
 */
export function createEventIntake(options: {
  config: Pick<Config, 'kafka' | 'sessions'>;
  topic: string;
  counters: IntakeCounters;
  consumerGroup?: string;
  now?: () => number;
}): EventIntake {
  const { config, topic, counters, consumerGroup, now = Date.now } = options;
  const decoder = eventDecoderFor(config);
  const deadLetter = (partition: number, message: KafkaMessage, why: DeadLetterReason) =>
    deadLetterMessage(
      { topic, partition, ...message, ...(consumerGroup ? { consumerGroup } : {}) },
      why,
      now(),
    );
  return {
    prepare: (messages) => decoder.prepare(messages.map((m) => m.value)),
    decode: (message) => decodeMessage(decoder, message, config.sessions.maxFutureSkew),
    reject(partition, message, rejection) {
      counters.events.inc({ outcome: 'rejected' });
      counters.deadLetters.inc({ reason: rejection.reason });
      return deadLetter(partition, message, rejection);
    },
    refuse(partition, message, why) {
      counters.deadLetters.inc({ reason: why.reason });
      return deadLetter(partition, message, why);
    },
  };
}
