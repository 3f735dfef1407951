/**
 * A candidate model directory, what `intentstream train` produces and the registry (promotion)
 * will consume:
 *
 *   <modelsDir>/candidates/<version>/   the files of MODEL_FILES (model-dir.ts)
 *
 * The directory is assembled under a temporary name next to its destination and renamed into
 * place, so a reader never sees half a candidate. Version: v<UTC yyyyMMddHHmmss>-<7 hex of the
 * training config + data range>.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { TrainerConfig } from '../config/schema.js';
import type { DatasetSummary } from '../dataset/index.js';
import type { FeatureEncoder } from '../features/index.js';
import { type BackendSelection, adapterName } from '../model/backend.js';
import type { EvaluationReport } from '../model/report.js';
import type { TrainResult } from '../model/train.js';
import { trainingConfigIdentity } from '../model/training-run.js';
import { modelPlots, plotInputFromReport } from '../plots/model-plots.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fsyncDir } from '../util/atomic-file.js';
import { modelCard } from './model-card.js';
import { MODEL_FILES, candidatePath, exists } from './model-dir.js';
import { saveEncoder, saveModelFiles } from './model-files.js';
import { writeChecksums } from './verify.js';

export const MANIFEST_VERSION = 1;

export interface DataRange {
  /** Inclusive lower bound of session start times (ISO). */
  from: string;
  /** Exclusive upper bound (ISO). */
  to: string;
}

export interface CandidateManifest {
  manifestVersion: number;
  version: string;
  createdAt: string;
  dataRange: DataRange;
  /** `device`: the WebGPU adapter (adapterName), on webgpu. */
  backend: { name: string; provider?: string; device?: string };
  dataset: DatasetSummary;
  training: Omit<TrainResult, 'history'> & { history: TrainResult['history'] };
  /** The training-relevant config (everything that decides the model). */
  parameters: unknown;
  fingerprint: string;
  modelParameters: number;
  headline: {
    testRocAuc: number | null;
    baselineTestRocAuc: number | null;
    shuffledTestRocAuc: number | null;
    threshold: number;
  };
}

/** `v20261103142501-1a2b3c4`. */
export function candidateVersion(now: Date, config: TrainerConfig, range: DataRange): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const hash = createHash('sha256')
    .update(JSON.stringify({ config: trainingConfigIdentity(config), epochs: config.training.epochs, range }))
    .digest('hex')
    .slice(0, 7);
  return `v${stamp}-${hash}`;
}

export interface WriteCandidateOptions {
  dir: string;
  model: tf.LayersModel;
  encoder: FeatureEncoder;
  report: EvaluationReport;
  manifest: CandidateManifest;
}

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

/** Writes the candidate directory atomically (fails if `dir` already exists); returns `dir`. */
export async function writeCandidate(options: WriteCandidateOptions): Promise<string> {
  const { dir } = options;
  if (await exists(dir)) throw new Error(`candidate directory ${dir} already exists`);
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.${basename(dir)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(temp);
    await saveModelFiles(options.model, temp);
    await saveEncoder(options.encoder, temp);
    await writeFileAtomic(join(temp, MODEL_FILES.metrics), json(options.report));
    await writeFileAtomic(join(temp, MODEL_FILES.manifest), json(options.manifest));
    await writeFileAtomic(
      join(temp, MODEL_FILES.card),
      Buffer.from(modelCard(options.manifest, options.report)),
    );
    for (const [file, svg] of Object.entries(modelPlots(plotInputFromReport(options.report)))) {
      await writeFileAtomic(join(temp, file), Buffer.from(svg));
    }
    await writeChecksums(temp);
    await rename(temp, dir);
    await fsyncDir(parent);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

export function buildManifest(input: {
  version: string;
  now: Date;
  range: DataRange;
  backend: BackendSelection;
  dataset: DatasetSummary;
  training: TrainResult;
  config: TrainerConfig;
  fingerprint: string;
  model: tf.LayersModel;
  report: EvaluationReport;
}): CandidateManifest {
  return {
    manifestVersion: MANIFEST_VERSION,
    version: input.version,
    createdAt: input.now.toISOString(),
    dataRange: input.range,
    backend: {
      name: input.backend.backend,
      ...(input.backend.provider ? { provider: input.backend.provider } : {}),
      ...(input.backend.adapter ? { device: adapterName(input.backend.adapter) } : {}),
    },
    dataset: input.dataset,
    training: input.training,
    parameters: { ...(trainingConfigIdentity(input.config) as object), epochs: input.config.training.epochs },
    fingerprint: input.fingerprint,
    modelParameters: input.model.countParams(),
    headline: {
      testRocAuc: input.report.splits.test.rocAuc,
      baselineTestRocAuc: input.report.baseline.test.rocAuc,
      shuffledTestRocAuc: input.report.orderAblation.test.rocAuc,
      threshold: input.report.threshold.value,
    },
  };
}

/**
 * Writes a finished training run as a candidate directory (default
 * `<modelsDir>/candidates/<version>`); the one path `intentstream train` and
 * the trainer process both use. Returns the version and directory.
 */
export async function saveRunAsCandidate(input: {
  run: {
    model: tf.LayersModel;
    encoder: FeatureEncoder;
    dataset: { summary: DatasetSummary };
    training: TrainResult;
    fingerprint: string;
    report: EvaluationReport;
  };
  config: TrainerConfig;
  backend: BackendSelection;
  dataRange: DataRange;
  dir?: string;
  now?: Date;
}): Promise<{ version: string; dir: string }> {
  const { run, config, backend, dataRange } = input;
  const now = input.now ?? new Date();
  const version = candidateVersion(now, config, dataRange);
  const dir = input.dir ?? resolve(candidatePath(config.modelsDir, version));
  const manifest = buildManifest({
    version,
    now,
    range: dataRange,
    backend,
    dataset: run.dataset.summary,
    training: run.training,
    config,
    fingerprint: run.fingerprint,
    model: run.model,
    report: run.report,
  });
  await writeCandidate({ dir, model: run.model, encoder: run.encoder, report: run.report, manifest });
  return { version, dir };
}
