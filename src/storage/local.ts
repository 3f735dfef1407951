import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { type ObjectInfo, type ObjectStorage, PreconditionFailedError } from './object-storage.js';

const missing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';
/** Local objects have no server-side etag; a content hash changes exactly when the bytes do. */
const etagOf = (body: Uint8Array) => createHash('sha1').update(body).digest('hex');
/** Temp files of writeFileAtomic (and other hidden files) are never objects. */
const hidden = (name: string) => name.startsWith('.');

/**
 * Objects as files under `root` (key `a/b` is `<root>/a/b`), written with temp file + fsync + rename:
 * today's on-disk layout, byte for byte. Conditions are checked before the rename, so they are not
 * atomic between processes; processes that share one directory serialize promotions with the
 * trainer's lock file instead.
 */
export function createLocalStorage(root: string): ObjectStorage {
  const pathOf = (key: string) => join(root, ...key.split('/'));
  const keyOf = (path: string) => relative(root, path).split(sep).join('/');

  async function get(key: string) {
    try {
      const body = await readFile(pathOf(key));
      return { body, etag: etagOf(body) };
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  }

  async function walk(dir: string, out: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (missing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      if (hidden(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, out);
      else if (entry.isFile()) out.push(path);
    }
  }

  const storage: ObjectStorage = {
    location: root,
    atomicConditions: false,
    locate: pathOf,
    async put(key, body, options = {}) {
      const chunks = Array.isArray(body) ? (body as Uint8Array[]) : [body as Uint8Array];
      if (options.ifAbsent || options.ifMatch !== undefined) {
        const existing = await get(key);
        if (options.ifAbsent && existing) throw new PreconditionFailedError(`${pathOf(key)} already exists`);
        if (options.ifMatch !== undefined && existing?.etag !== options.ifMatch)
          throw new PreconditionFailedError(`${pathOf(key)} changed since it was read`);
      }
      await writeFileAtomic(pathOf(key), chunks);
      const whole = Buffer.concat(chunks);
      return { key, etag: etagOf(whole), size: whole.length };
    },
    get,
    async getIfChanged(key, etag) {
      const current = await get(key);
      if (current && etag !== undefined && current.etag === etag) return 'unchanged';
      return current;
    },
    async head(key) {
      const current = await get(key);
      return current && { key, etag: current.etag, size: current.body.length };
    },
    async list(prefix) {
      // Walk only the directory the prefix names (up to its last '/'); filter the rest by name.
      const dirPart = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const paths: string[] = [];
      await walk(dirPart === '' ? root : pathOf(dirPart.slice(0, -1)), paths);
      const infos: ObjectInfo[] = [];
      for (const path of paths) {
        const key = keyOf(path);
        if (!key.startsWith(prefix)) continue;
        const info = await stat(path).catch(() => undefined);
        if (info)
          infos.push({ key, etag: `${info.mtimeMs}-${info.size}`, size: info.size, modified: info.mtime });
      }
      return infos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async listDirs(prefix) {
      try {
        const entries = await readdir(prefix === '' ? root : pathOf(prefix.replace(/\/$/, '')), {
          withFileTypes: true,
        });
        return entries
          .filter((e) => e.isDirectory() && !hidden(e.name))
          .map((e) => e.name)
          .sort();
      } catch (error) {
        if (missing(error)) return [];
        throw error;
      }
    },
    async delete(keys) {
      for (const key of keys) await rm(pathOf(key), { force: true });
    },
    async deletePrefix(prefix) {
      await rm(pathOf(prefix.replace(/\/$/, '')), { recursive: true, force: true });
    },
    scoped: (prefix) => createLocalStorage(pathOf(prefix.replace(/\/$/, ''))),
  };
  return storage;
}
