export { createStorageFromConfig, type StorageArea } from './from-config.js';
export { createLocalStorage } from './local.js';
export {
  type ObjectInfo,
  type ObjectStorage,
  PreconditionFailedError,
  type PutOptions,
  StorageUnavailableError,
  joinKey,
} from './object-storage.js';
export { createS3Client, createS3Storage, type S3ClientOptions } from './s3.js';
