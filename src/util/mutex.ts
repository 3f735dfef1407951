/** Serializes async critical sections (batch processing vs timer flushes vs shutdown). */
export function createMutex() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(critical: () => Promise<T>): Promise<T> => {
    const run = tail.then(critical, critical);
    tail = run.catch(() => undefined);
    return run;
  };
}
