/**
 * Client of a Confluent-compatible Schema Registry: fetches the writer schema of a schema id
 * (`GET /schemas/ids/<id>`) and builds its avsc type. Every failure is an Error whose message says which
 * request failed and how.
 */
import type { Type } from 'avsc';
import { avroTypeFromSchema } from './avro.js';
import { describeError } from './rejections.js';

export interface SchemaRegistryOptions {
  /** Base URL; user:password@ in it becomes Basic auth. */
  url: string;
  /** fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** per-request timeout; default 5000 ms. */
  timeoutMs?: number;
  /** how long a caller should wait before asking again for an id that failed; default 30000 ms. */
  retryMs?: number;
}

export interface SchemaRegistryClient {
  readonly retryMs: number;
  fetchSchema(id: number): Promise<Type>;
}

export function createSchemaRegistryClient(options: SchemaRegistryOptions): SchemaRegistryClient {
  const url = new URL(options.url);
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json',
  };
  if (url.username !== '' || url.password !== '') {
    // fetch() refuses URLs with credentials
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const base = url.href.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 5000;

  return {
    retryMs: options.retryMs ?? 30_000,
    async fetchSchema(id: number): Promise<Type> {
      const target = `${base}/schemas/ids/${id}`;
      let res: Response;
      try {
        res = await fetchImpl(target, { headers, signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new Error(`GET ${target} failed: ${describeError(err)}`);
      }
      const text = await res.text();
      if (!res.ok) {
        let detail = text.slice(0, 200);
        try {
          const body = JSON.parse(text) as { message?: unknown };
          if (typeof body.message === 'string') detail = body.message;
        } catch {
          // not JSON: keep the raw text
        }
        throw new Error(`GET ${target} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
      }
      let body: { schema?: unknown; schemaType?: unknown };
      try {
        body = JSON.parse(text) as typeof body;
      } catch (err) {
        throw new Error(`GET ${target} answered a body that is not JSON: ${describeError(err)}`);
      }
      if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
        throw new Error(`schema id ${id} in the registry is a ${String(body.schemaType)} schema, not Avro`);
      }
      if (typeof body.schema !== 'string') {
        throw new Error(`GET ${target} answered without a "schema" string`);
      }
      try {
        return avroTypeFromSchema(JSON.parse(body.schema));
      } catch (err) {
        throw new Error(
          `schema id ${id} from the registry is not a valid Avro schema: ${describeError(err)}`,
        );
      }
    },
  };
}
