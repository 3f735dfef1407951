import type { S3Client } from '@aws-sdk/client-s3';
import { type Config, readConfigFile } from '../config/index.js';
import { createLocalStorage } from './local.js';
import type { ObjectStorage } from './object-storage.js';
import { createS3Client, createS3Storage } from './s3.js';

/** The three things kept in storage; on S3 each is a key prefix of the bucket, locally its own directory. */
export type StorageArea = 'timelines' | 'checkpoints' | 'models';

const clients = new WeakMap<object, S3Client>();

/** One S3 client per loaded config: processes that open several areas share its connection pool. */
function s3ClientFor(config: Readonly<Config>): S3Client {
  let client = clients.get(config.storage);
  if (!client) {
    const s3 = config.storage.s3;
    const credentials =
      s3.accessKeyIdFile === null
        ? undefined
        : {
            accessKeyId: readConfigFile('storage.s3.accessKeyIdFile', s3.accessKeyIdFile, { secret: true }),
            secretAccessKey: readConfigFile('storage.s3.secretAccessKeyFile', s3.secretAccessKeyFile!, {
              secret: true,
            }),
          };
    client = createS3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      ...(credentials ? { credentials } : {}),
    });
    clients.set(config.storage, client);
  }
  return client;
}

/**
 * The storage of one area as the config says: locally the directory the area's own key names, on S3
 * `<prefix><area>/` of the bucket. An explicit `dir` (a CLI `--store <dir>`) is always that local directory.
 */
export function createStorageFromConfig(
  config: Readonly<Config>,
  area: StorageArea,
  dir?: string,
): ObjectStorage {
  if (dir !== undefined || config.storage.backend === 'local') {
    const local = {
      timelines: config.store.dir,
      checkpoints: config.ingest.checkpointDir,
      models: config.trainer.modelsDir,
    }[area];
    return createLocalStorage(dir ?? local);
  }
  const { bucket, prefix } = config.storage.s3;
  return createS3Storage({ client: s3ClientFor(config), bucket: bucket!, prefix: `${prefix}${area}/` });
}
