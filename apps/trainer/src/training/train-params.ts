import type { TextMode } from '@app/lstm';

/** Hyper-parameters of one training run (defaults in {@link withDefaults}). */
export interface TrainParams {
  readonly hiddenUnits: number;
  readonly layers: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Fraction of examples held out for validation and for the comparison with the active version. */
  readonly validationSplit: number;
  readonly seed: number;
  /** forecast: input window length (steps). */
  readonly window: number;
  /** forecast: values predicted ahead. */
  readonly horizon: number;
  /** classify: embedding size. */
  readonly embeddingDim: number;
  /** classify: tokenizer num_words (vocabulary incl. padding index 0 and OOV index 1). */
  readonly vocabSize: number;
  /** classify: padded sequence length; 0 = longest training sequence, capped at 100. */
  readonly maxlen: number;
  /** classify: how the worker reads a key's text stream (sidecar `input.mode`; default 'stream'). */
  readonly textMode: TextMode;
}

/** Fills absent parameters with defaults. */
export function withDefaults(p: Partial<TrainParams>): TrainParams {
  return {
    hiddenUnits: p.hiddenUnits ?? 32,
    layers: p.layers ?? 1,
    epochs: p.epochs ?? 10,
    batchSize: p.batchSize ?? 32,
    learningRate: p.learningRate ?? 0.005,
    validationSplit: p.validationSplit ?? 0.2,
    seed: p.seed ?? 42,
    window: p.window ?? 24,
    horizon: p.horizon ?? 1,
    embeddingDim: p.embeddingDim ?? 32,
    vocabSize: p.vocabSize ?? 1000,
    maxlen: p.maxlen ?? 0,
    textMode: p.textMode ?? 'stream',
  };
}

/** Every numeric key of {@link TrainParams}. */
export const TRAIN_PARAM_KEYS = [
  'hiddenUnits',
  'layers',
  'epochs',
  'batchSize',
  'learningRate',
  'validationSplit',
  'seed',
  'window',
  'horizon',
  'embeddingDim',
  'vocabSize',
  'maxlen',
] as const satisfies readonly (keyof TrainParams)[];

/**
 * The training parameters recorded with a version (its metadata `params`), as a partial
 * {@link TrainParams}: the keys that are there and finite numbers; anything else is ignored.
 */
export function recordedParams(params: Readonly<Record<string, unknown>> | undefined): Partial<TrainParams> {
  const out: Partial<Record<(typeof TRAIN_PARAM_KEYS)[number], number>> = {};
  for (const k of TRAIN_PARAM_KEYS) {
    const v = params?.[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  const mode = params?.textMode;
  return mode === 'window' || mode === 'stream' ? { ...out, textMode: mode } : out;
}

/** One epoch's progress report. */
export interface EpochProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  readonly valLoss: number | null;
  readonly metrics: Readonly<Record<string, number>>;
  readonly examplesPerSecond: number;
  /** Which fit loop ran the epoch: the WASM SIMD training kernel or tfjs-layers (fit-loop.ts). */
  readonly route: 'simd' | 'tfjs';
}
