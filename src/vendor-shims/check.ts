/**
 * The start-up self-check of every shim in this folder: a service calls checkVendorShims with the
 * packages it loads, before it does anything else. An internal that moved (a dependency upgraded past
 * the pinned version, a partial install) stops the service with a message naming it; a missing
 * performance patch only logs a warning.
 */
import { IntentstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ShimProblem } from './problems.js';

export type ShimPackage = 'kafkajs' | 'avsc' | 'tfjs';

/** A vendor internal the code relies on is not there: the process must not run on it. */
export class VendorShimError extends IntentstreamError {
  override name = 'VendorShimError';
  constructor(readonly problems: readonly ShimProblem[]) {
    super(
      `dependency internals changed (reinstall the versions pinned in package.json with npm ci): ${problems.map((p) => p.message).join('; ')}`,
    );
  }
}

/** The problems of each package's shims; tfjs is loaded only when asked for (ingest never loads it). */
export async function findShimProblems(packages: readonly ShimPackage[]): Promise<ShimProblem[]> {
  const problems: ShimProblem[] = [];
  for (const pkg of new Set(packages)) {
    if (pkg === 'kafkajs') problems.push(...(await import('./kafkajs.js')).checkKafkajsInternals());
    else if (pkg === 'avsc') problems.push(...(await import('./avsc.js')).checkAvscInternals());
    else {
      problems.push(...(await import('./tfjs-core.js')).checkTfjsCoreInternals());
      problems.push(...(await import('./tfjs-layers.js')).checkTfjsLayersInternals());
      problems.push(...(await (await import('./tfjs-backend-cpu.js')).checkCpuBackendInternals()));
      problems.push(...(await (await import('./tfjs-backend-wasm.js')).checkWasmBackendInternals()));
      // Imported before navigator.gpu exists (Dawn is set up only when webgpu is chosen), the webgpu
      // package skips registering its backend for good: then its internals are checked on the live
      // backend when webgpu starts (checkLiveWebgpuBackend, model/webgpu-kernels.ts).
      if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined) {
        problems.push(...(await (await import('./tfjs-backend-webgpu.js')).checkWebgpuBackendInternals()));
      }
    }
  }
  return problems;
}

/**
 * Logs every warning and throws VendorShimError when any problem is fatal; `find` is for tests.
 * Resolves with the problems it logged.
 */
export async function checkVendorShims(
  packages: readonly ShimPackage[],
  logger: Logger,
  find: (packages: readonly ShimPackage[]) => Promise<ShimProblem[]> = findShimProblems,
): Promise<ShimProblem[]> {
  const problems = await find(packages);
  for (const p of problems) {
    if (p.severity === 'warning') {
      logger.warn(p.message, { package: p.package, internal: p.internal, event: 'vendor_shim_warning' });
    }
  }
  const fatal = problems.filter((p) => p.severity === 'fatal');
  if (fatal.length > 0) throw new VendorShimError(fatal);
  return problems;
}
