/** What a vendor shim's self-check reports: which internal of which package is not where the shim expects it. */

/** `fatal`: the code that uses the internal would misbehave; `warning`: only slower (or less checked). */
export type ShimSeverity = 'fatal' | 'warning';

export interface ShimProblem {
  /** npm package, e.g. `avsc`. */
  package: string;
  /** the internal, e.g. `ArrayType.prototype._read`. */
  internal: string;
  severity: ShimSeverity;
  /** what is wrong and what to do. */
  message: string;
}

/** A problem for each `names` member of `target` that is not a function (`label` names the target). */
export function missingFunctions(
  pkg: string,
  label: string,
  target: unknown,
  names: readonly string[],
): ShimProblem[] {
  const problems: ShimProblem[] = [];
  for (const name of names) {
    const value = target == null ? undefined : (target as Record<string, unknown>)[name];
    if (typeof value !== 'function') {
      problems.push({
        package: pkg,
        internal: `${label}.${name}`,
        severity: 'fatal',
        message: `${pkg}: ${label}.${name} is ${value === undefined ? 'missing' : `a ${typeof value}`}, not a function; the installed ${pkg} is not the version src/vendor-shims/ was written for (see the pinned version in package.json)`,
      });
    }
  }
  return problems;
}
