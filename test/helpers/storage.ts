import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ObjectStorage,
  createLocalStorage,
  createS3Client,
  createS3Storage,
} from '../../src/storage/index.js';

/**
 * The S3 server under test: S3_ENDPOINT / S3_BUCKET and the AWS_* credentials, as `scripts/s3 env`
 * prints them (scripts/test exports them after `scripts/s3 start`).
 */
export function testS3Env(): { endpoint: string; bucket: string } {
  const endpoint = process.env.S3_ENDPOINT;
  const bucket = process.env.S3_BUCKET;
  if (!endpoint || !bucket)
    throw new Error(
      'S3_ENDPOINT and S3_BUCKET are not set: run `scripts/s3 start && eval "$(scripts/s3 env)"` (scripts/test does both)',
    );
  return { endpoint, bucket };
}

let client: ReturnType<typeof createS3Client> | undefined;

/** A fresh random key prefix of the test bucket, so tests never see each other's objects. */
export function testS3Prefix(): string {
  return `test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/`;
}

/** The test bucket under `prefix` (default: a fresh one per call). */
export function testS3Storage(prefix = testS3Prefix()): ObjectStorage {
  const { endpoint, bucket } = testS3Env();
  client ??= createS3Client({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: true,
  });
  return createS3Storage({ client, bucket, prefix });
}

/** Environment that points a CLI process's storage at the test bucket under `prefix` (credentials: AWS_* as set). */
export function s3StorageEnv(prefix: string): NodeJS.ProcessEnv {
  const { endpoint, bucket } = testS3Env();
  return {
    INTENTSTREAM_STORAGE__BACKEND: 's3',
    INTENTSTREAM_STORAGE__S3__ENDPOINT: endpoint,
    INTENTSTREAM_STORAGE__S3__BUCKET: bucket,
    INTENTSTREAM_STORAGE__S3__PREFIX: prefix,
    INTENTSTREAM_STORAGE__S3__FORCE_PATH_STYLE: 'true',
  };
}

export function testLocalStorage(): ObjectStorage {
  return createLocalStorage(join(mkdtempSync(join(tmpdir(), 'storage-')), 'root'));
}

/** Both backends, for tests that must hold on each. */
export const storageBackends: ReadonlyArray<{ name: string; create: () => ObjectStorage }> = [
  { name: 'local directory', create: testLocalStorage },
  { name: 'S3 (SeaweedFS)', create: testS3Storage },
];
