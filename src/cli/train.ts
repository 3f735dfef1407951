import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { EXIT_USAGE, IntentstreamError } from '../errors.js';
import { BACKENDS, type BackendChoice, selectBackend } from '../model/backend.js';
import { runTraining } from '../model/training-run.js';
import { saveRunAsCandidate } from '../registry/candidate.js';
import { createStorageFromConfig } from '../storage/index.js';
import { createTimelineStore } from '../store/index.js';
import { sessionsOutsideWindow, trainingRange } from '../trainer/range.js';
import { sessionsForTraining } from '../trainer/read.js';
import { progressTo } from '../util/progress.js';
import { onShutdownSignal } from '../util/shutdown.js';
import { checkVendorShims } from '../vendor-shims/check.js';
import { action, contextFrom, parseIntOption } from './context.js';

interface TrainCliOptions {
  from?: number;
  to?: number;
  days?: number;
  resume?: boolean;
  epochs?: number;
  seed?: number;
  backend?: BackendChoice;
  out?: string;
  store?: string;
  checkpointDir?: string;
}

const isoTime = (name: string) => (value: string) => {
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new InvalidArgumentError(`--${name} must be an ISO-8601 date or time, got ${value}`);
  return t;
};

const wrap =
  <T>(parse: (v: string) => T) =>
  (v: string): T => {
    try {
      return parse(v);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };

/**
 * `intentstream train`: reads timelines from the store, builds the dataset, trains the LSTM
 * (checkpoint per epoch; --resume continues), evaluates it against the order-blind baseline and the
 * shuffled-order ablation, and writes a candidate model directory. Prints one JSON summary line.
 * SIGINT/SIGTERM stop training at the next batch; the last epoch's checkpoint stays for --resume.
 */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      'train a candidate model from the timeline store (dataset → LSTM → evaluation → candidate dir)',
    )
    .option(
      '--from <iso>',
      'first session start time to train on (default: --days before --to)',
      wrap(isoTime('from')),
    )
    .option(
      '--to <iso>',
      'end (exclusive) of session start times (default: just after the newest stored session)',
      wrap(isoTime('to')),
    )
    .option(
      '--days <n>',
      'window length in days when --from is not given (default trainer.windowDays)',
      wrap(parseIntOption('days')),
    )
    .option(
      '--resume',
      'continue from the last checkpoint in trainer.checkpointDir (same data, config and seed)',
    )
    .option(
      '--epochs <n>',
      'maximum epochs (default trainer.training.epochs)',
      wrap(parseIntOption('epochs')),
    )
    .option('--seed <n>', 'random seed (default trainer.seed)', wrap(parseIntOption('seed')))
    .option('--backend <name>', `auto | ${BACKENDS.join(' | ')} (default trainer.backend)`)
    .option('--out <dir>', 'candidate directory to write (default <trainer.modelsDir>/candidates/<version>)')
    .option('--store <dir>', 'timeline store directory (default store.dir)')
    .option('--checkpoint-dir <dir>', 'checkpoint directory (default trainer.checkpointDir)')
    .action(
      action(async (opts: TrainCliOptions, cmd: Command) => {
        const out = opts.out === undefined ? undefined : resolve(opts.out);
        // Refused before the data is read and the epochs run, not when the candidate is written.
        if (out !== undefined && existsSync(out)) {
          throw new IntentstreamError(
            `--out ${out} already exists: a candidate directory is written once; give a path that does not exist yet (or leave --out out for <trainer.modelsDir>/candidates/<version>)`,
            { exitCode: EXIT_USAGE },
          );
        }
        const trainerOverrides = {
          ...(opts.epochs !== undefined ? { training: { epochs: opts.epochs } } : {}),
          ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
          ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
          ...(opts.checkpointDir !== undefined ? { checkpointDir: opts.checkpointDir } : {}),
        };
        const { config, logger } = contextFrom(cmd, 'trainer', {
          trainer: trainerOverrides,
          ...(opts.store ? { store: { dir: opts.store } } : {}),
        });
        await checkVendorShims(['avsc', 'tfjs'], logger);
        const trainer = config.trainer;
        const store = createTimelineStore(createStorageFromConfig(config, 'timelines', opts.store));
        const range = await trainingRange(
          store,
          {
            from: opts.from,
            to: opts.to,
            days: opts.days ?? trainer.windowDays,
          },
          logger,
        );
        const dataRange = { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
        const backend = await selectBackend({
          requested: trainer.backend,
          logger,
          fastWasmMatMul: trainer.training.fastWasmMatMul,
        });
        logger.info('training started', {
          store: store.dir,
          ...dataRange,
          backend: backend.backend,
          resume: Boolean(opts.resume),
          checkpointDir: trainer.checkpointDir,
        });
        let stopRequested = false;
        const removeSignals = onShutdownSignal(logger, async () => {
          stopRequested = true;
        });
        let run: Awaited<ReturnType<typeof runTraining>>;
        try {
          run = await runTraining({
            sessions: sessionsForTraining(store, range, logger),
            config: trainer,
            logger,
            checkpointDir: trainer.checkpointDir,
            resume: Boolean(opts.resume),
            progress: progressTo(logger),
            shouldStop: () => stopRequested,
            window: { ...range, leftOut: await sessionsOutsideWindow(store, range) },
          });
        } finally {
          removeSignals();
        }
        if (!run.report) {
          logger.warn(
            'training interrupted; the last completed epoch is checkpointed: run again with --resume',
            {
              epochsCompleted: run.training.epochsCompleted,
              checkpointDir: trainer.checkpointDir,
            },
          );
          process.exitCode = 130;
          return;
        }
        const { version, dir } = await saveRunAsCandidate({
          run: { ...run, report: run.report },
          config: trainer,
          backend,
          dataRange,
          dir: out,
        });
        logger.info('candidate written', {
          version,
          dir,
          next: `intentstream models register ${opts.out ? dir : version}, then intentstream models promote ${version}`,
        });
        const r = run.report;
        process.stdout.write(
          `${JSON.stringify({
            version,
            dir,
            backend: backend.backend,
            dataRange,
            sessions: Object.fromEntries(
              Object.entries(run.dataset.summary.splits).map(([k, v]) => [k, v.sessions]),
            ),
            epochs: run.training.epochsCompleted,
            bestEpoch: run.training.bestEpoch,
            resumedFromEpoch: run.training.resumedFromEpoch,
            seconds: Math.round(run.training.seconds * 10) / 10,
            stepsPerSecond: Math.round(run.training.stepsPerSecond),
            test: {
              rocAuc: r.splits.test.rocAuc,
              prAuc: r.splits.test.prAuc,
              logLoss: r.splits.test.logLoss,
            },
            baselineTestRocAuc: r.baseline.test.rocAuc,
            shuffledTestRocAuc: r.orderAblation.test.rocAuc,
            threshold: r.threshold.value,
          })}\n`,
        );
        run.model.dispose();
      }),
    );
}
