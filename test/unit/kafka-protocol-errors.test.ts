import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { isRebalanceRefusal } from '../../src/kafka/partitioned-consumer.js';
import { ProducerFencedError, isProducerFenced } from '../../src/scoring/service/transactional-output.js';

// kafkajs spreads its errors into module.exports, which ESM named imports cannot see.
const { KafkaJSNonRetriableError, KafkaJSProtocolError } = kafkajs;
// kafkajs builds its protocol errors from the broker's error table entry (its types omit that shape).
const protocolError = (type: string, code: number) =>
  new KafkaJSProtocolError({ message: `${type} from the broker`, type, code, retriable: false } as never);
// kafkajs's retrier wraps the error it gives up on, keeping it as `cause` (its types omit the option).
const NonRetriable = KafkaJSNonRetriableError as unknown as new (
  e: Error,
  options: { cause: Error },
) => Error;

describe('isProducerFenced', () => {
  const cases: [string, unknown, boolean][] = [
    ['INVALID_PRODUCER_EPOCH', protocolError('INVALID_PRODUCER_EPOCH', 47), true],
    ['PRODUCER_FENCED by code only', protocolError('UNKNOWN', 90), true],
    [
      'wrapped by the retrier',
      new NonRetriable(protocolError('INVALID_PRODUCER_EPOCH', 47), {
        cause: protocolError('INVALID_PRODUCER_EPOCH', 47),
      }),
      true,
    ],
    ['a consumer-side leader epoch', protocolError('FENCED_LEADER_EPOCH', 74), false],
    ['a message that merely says fenced', new Error('the producer was fenced'), false],
    ['not an error', undefined, false],
  ];
  for (const [name, error, expected] of cases)
    it(name, () => assert.equal(isProducerFenced(error), expected));

  it('the error thrown to kafkajs is retriable, so kafkajs restarts the consumer instead of stopping it', () => {
    const error = new ProducerFencedError(3, protocolError('INVALID_PRODUCER_EPOCH', 47));
    assert.equal(error.retriable, true);
    assert.equal((error as { cause?: unknown }).cause, undefined);
  });
});

describe('isRebalanceRefusal', () => {
  const cases: [string, unknown, boolean][] = [
    ['ILLEGAL_GENERATION', protocolError('ILLEGAL_GENERATION', 22), true],
    ['REBALANCE_IN_PROGRESS by code only', protocolError('UNKNOWN', 27), true],
    [
      'an offset commit the retrier gave up on (as seen at shutdown during a rebalance)',
      new NonRetriable(protocolError('ILLEGAL_GENERATION', 22), {
        cause: protocolError('ILLEGAL_GENERATION', 22),
      }),
      true,
    ],
    ['a fenced producer', protocolError('INVALID_PRODUCER_EPOCH', 47), false],
    ['an unknown topic', protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3), false],
    ['a message that merely says rebalancing', new Error('the group is rebalancing'), false],
    ['not an error', undefined, false],
  ];
  for (const [name, error, expected] of cases)
    it(name, () => assert.equal(isRebalanceRefusal(error), expected));
});
