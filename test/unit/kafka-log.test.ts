/** Which kafkajs log entries are retried noise (logged at debug) and which stay errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetriableNoise } from '../../src/kafka/client.js';

test('retried broker responses are noise; real failures are not', () => {
  const concurrent =
    'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';
  assert.ok(isRetriableNoise({ error: concurrent }, 'Response AddPartitionsToTxn(key: 24, version: 1)'));
  assert.ok(isRetriableNoise({ retryCount: 0 }, `Failed to send messages: ${concurrent}`), 'produce retry');
  for (const request of [
    'Response AddOffsetsToTxn(key: 25, version: 1)',
    'Response EndTxn(key: 26, version: 1)',
  ])
    assert.ok(
      !isRetriableNoise({ error: concurrent }, request),
      `${request} is not retried: must stay an error`,
    );
  for (const error of [
    "The coordinator is loading and hence can't process requests",
    'This is not the correct coordinator for this group',
  ])
    assert.ok(isRetriableNoise({ error }, 'Response FindCoordinator'), error);
  assert.ok(isRetriableNoise({}, 'Limiting retries for the idempotent producer to 1'), 'retry limit notice');
  for (const error of [
    'Connection error: connect ECONNREFUSED',
    'Producer is fenced',
    'SASL authentication failed',
  ])
    assert.ok(!isRetriableNoise({ error }, 'Failed to send messages'), `${error} must stay an error`);
});
