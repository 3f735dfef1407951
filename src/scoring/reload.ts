import type { Logger } from '../log/logger.js';
import type { ModelSource, StepModel } from './model.js';

export interface ModelWatcherOptions {
  source: ModelSource;
  /** How often CURRENT is read. */
  intervalMs: number;
  logger: Logger;
  /**
   * Puts a freshly loaded model into service (the scorer swaps it in between batches). Throwing refuses
   * the model: the watcher disposes it and the old model keeps serving.
   */
  install: (model: StepModel) => Promise<void>;
  /** Instrumentation: a version was installed / refused. */
  onInstalled?: (version: string, first: boolean) => void;
  onRefused?: (version: string, error: unknown) => void;
}

export interface ModelWatcher {
  /** Reads CURRENT once and, if it names a new version, loads and installs it. Never rejects. */
  check(): Promise<void>;
  /** Polls until a first model is installed (or stop() is called: resolves false). */
  waitForFirst(): Promise<boolean>;
  /** Starts polling every intervalMs (after each check finishes, so checks never overlap). */
  start(): void;
  /** Stops polling; resolves once an in-flight check has finished. Idempotent. */
  stop(): Promise<void>;
  readonly served: string | undefined;
}

/**
 * Watches a model registry's CURRENT file by polling (plain reads: no fs.watch, whose semantics vary
 * across platforms and miss atomic renames on some). A new version is loaded in the background while
 * the old one keeps serving, then handed to `install`. A version whose load or install fails is
 * refused once and not retried until CURRENT names something else.
 */
export function createModelWatcher(options: ModelWatcherOptions): ModelWatcher {
  const { source, intervalMs, logger, install, onInstalled, onRefused } = options;
  let served: string | undefined;
  let refused: string | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;

  async function checkOnce(): Promise<void> {
    let version: string | undefined;
    try {
      version = await source.current();
    } catch (error) {
      logger.warn('cannot read the model registry CURRENT file', { error });
      return;
    }
    if (version === undefined || version === served || version === refused) return;
    let model: StepModel | undefined;
    try {
      const started = Date.now();
      model = await source.load(version);
      if (stopped) {
        model.dispose();
        return;
      }
      await install(model);
      const first = served === undefined;
      logger.info(first ? 'model loaded' : 'model reloaded', {
        version,
        previous: served,
        loadMs: Date.now() - started,
      });
      served = version;
      refused = undefined;
      onInstalled?.(version, first);
    } catch (error) {
      model?.dispose();
      refused = version;
      logger.error('model refused: the previous model keeps serving', { version, serving: served, error });
      onRefused?.(version, error);
    }
  }

  const check = () => {
    inFlight ??= checkOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void check().then(schedule);
    }, intervalMs);
  };

  return {
    check,
    get served() {
      return served;
    },
    async waitForFirst() {
      let warned = false;
      while (!stopped) {
        await check();
        if (served !== undefined) return true;
        if (!warned) {
          logger.warn('waiting for a servable model: CURRENT is missing, empty or names a refused model', {});
          warned = true;
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
      return false;
    },
    start() {
      if (timer === undefined && !stopped) schedule();
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        await inFlight;
      })();
      return stopping;
    },
  };
}
