/**
 * V8 flags the long-running processes run with. They must be given to `node` itself (V8 sizes its heap
 * before any JavaScript runs), so they are written out where node is started: bin/intentstream.js's
 * shebang, the Dockerfile's ENTRYPOINT and scripts/demo; test/unit/node-flags.test.ts checks those
 * agree with this list.
 *
 * --max-semi-space-size=32 (MiB; V8's default is 16): the scorer holds hundreds of thousands of
 * sessions while it allocates per-event garbage. With the default young generation, batches still
 * alive at a scavenge get promoted among the long-lived session objects, and old space ends up a
 * third free space that V8 never gives back; the larger young generation keeps RSS near the live
 * data (measured by bench/score's memory phase, figures in BENCHMARKS.md).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** The flags of SERVICE_NODE_FLAGS that this node was started without (argv or NODE_OPTIONS). */
export function missingNodeFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env['NODE_OPTIONS'] ?? '',
): string[] {
  const options = nodeOptions.split(/\s+/).map((a) => a.replace(/^["']|["']$/g, '')); // node accepts quoted ones
  const given = [...execArgv, ...options].map((a) => a.split('=')[0]!.replaceAll('_', '-'));
  return SERVICE_NODE_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]!));
}
