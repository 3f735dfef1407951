import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  type ObjectInfo,
  type ObjectStorage,
  PreconditionFailedError,
  StorageUnavailableError,
  joinKey,
} from './object-storage.js';

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix: string;
}

/** What the S3Client needs; credentials undefined = the SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
export interface S3ClientOptions {
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function createS3Client(options: S3ClientOptions): S3Client {
  // The pinned SDK runs on Node 20; its warning concerns later releases (which need Node 22) and, as a
  // multi-line text on stderr, would break the JSON logs. Upgrading the SDK is where Node 22 matters.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    // Object stores other than AWS reject or mishandle the newer default checksum headers on PUT.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without limits a request to a server that went away mid-request waits forever, and ingest with it.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    ...(options.endpoint === null ? {} : { endpoint: options.endpoint }),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  return new S3Client(config);
}

const statusOf = (error: unknown) =>
  error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
const isNotFound = (error: unknown) =>
  statusOf(error) === 404 || (error as { name?: string }).name === 'NoSuchKey';
const stripQuotes = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '');

/**
 * Objects in an S3-compatible bucket under a key prefix. A single PUT is atomic (readers see the old
 * object or the whole new one); conditional writes use If-None-Match / If-Match, which the server
 * enforces atomically (AWS S3, SeaweedFS, MinIO, Ceph RGW).
 */
export function createS3Storage(options: S3StorageOptions): ObjectStorage {
  const { client, bucket } = options;
  const prefix = options.prefix;
  const full = (key: string) => joinKey(prefix, key);
  const location = `s3://${bucket}/${prefix}`;
  const unavailable = (what: string, key: string, error: unknown) =>
    statusOf(error) === 412
      ? new PreconditionFailedError(`${what} s3://${bucket}/${full(key)}: the condition did not hold`, {
          cause: error,
        })
      : new StorageUnavailableError(
          `cannot ${what} s3://${bucket}/${full(key)}: ${(error as Error).message}`,
          error,
        );

  async function read(key: string, ifNoneMatch: string | undefined) {
    try {
      const out = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: full(key),
          ...(ifNoneMatch ? { IfNoneMatch: `"${ifNoneMatch}"` } : {}),
        }),
      );
      const body = Buffer.from(await out.Body!.transformToByteArray());
      return { body, etag: stripQuotes(out.ETag) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      if (statusOf(error) === 304) return 'unchanged' as const;
      throw unavailable('read', key, error);
    }
  }

  async function list(keyPrefix: string, delimiter?: string) {
    const objects: ObjectInfo[] = [];
    const dirs: string[] = [];
    let token: string | undefined;
    do {
      let out: import('@aws-sdk/client-s3').ListObjectsV2CommandOutput;
      try {
        out = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: full(keyPrefix),
            ContinuationToken: token,
            ...(delimiter ? { Delimiter: delimiter } : {}),
          }),
        );
      } catch (error) {
        throw unavailable('list', keyPrefix, error);
      }
      for (const o of out.Contents ?? []) {
        objects.push({
          key: o.Key!.slice(full('').length),
          etag: stripQuotes(o.ETag),
          size: o.Size ?? 0,
          ...(o.LastModified ? { modified: o.LastModified } : {}),
        });
      }
      for (const p of out.CommonPrefixes ?? []) {
        dirs.push(p.Prefix!.slice(full(keyPrefix).length).replace(/\/$/, ''));
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return { objects, dirs };
  }

  async function deleteKeys(keys: readonly string[]) {
    // DeleteObjects takes at most 1000 keys per request.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const out = await client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((k) => ({ Key: full(k) })), Quiet: true },
          }),
        );
        const [failed] = out.Errors ?? [];
        if (failed) throw new Error(`${failed.Key}: ${failed.Code} ${failed.Message}`);
      } catch (error) {
        throw unavailable('delete', batch[0]!, error);
      }
    }
  }

  return {
    location,
    atomicConditions: true,
    locate: (key) => `s3://${bucket}/${full(key)}`,
    async put(key, body, options = {}) {
      const chunks = Array.isArray(body) ? (body as Uint8Array[]) : [body as Uint8Array];
      const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        const out = await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: full(key),
            Body: whole,
            ContentLength: whole.length,
            ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
            ...(options.ifMatch !== undefined ? { IfMatch: `"${options.ifMatch}"` } : {}),
          }),
        );
        return { key, etag: stripQuotes(out.ETag), size: whole.length };
      } catch (error) {
        throw unavailable('write', key, error);
      }
    },
    async get(key) {
      const out = await read(key, undefined);
      return out === 'unchanged' ? undefined : out;
    },
    getIfChanged: (key, etag) => read(key, etag),
    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return { key, etag: stripQuotes(out.ETag), size: out.ContentLength ?? 0 };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw unavailable('read', key, error);
      }
    },
    list: async (keyPrefix) => (await list(keyPrefix)).objects,
    async listDirs(dirPrefix) {
      // Servers with a real directory tree behind S3 (SeaweedFS's filer) keep an emptied "directory"
      // listed for a moment after its last object is deleted; only prefixes that hold objects count.
      const { dirs } = await list(dirPrefix, '/');
      const held = await Promise.all(
        dirs.map(async (dir) => {
          try {
            const out = await client.send(
              new ListObjectsV2Command({ Bucket: bucket, Prefix: full(`${dirPrefix}${dir}/`), MaxKeys: 1 }),
            );
            return (out.KeyCount ?? out.Contents?.length ?? 0) > 0;
          } catch (error) {
            throw unavailable('list', `${dirPrefix}${dir}/`, error);
          }
        }),
      );
      return dirs.filter((_, i) => held[i]).sort();
    },
    delete: deleteKeys,
    async deletePrefix(dirPrefix) {
      await deleteKeys((await list(dirPrefix)).objects.map((o) => o.key));
    },
    scoped: (sub) => createS3Storage({ client, bucket, prefix: joinKey(prefix, sub.replace(/\/?$/, '/')) }),
  };
}
