import type { KerasTokenizerJson, StandardScalerJson } from './preprocess';

/** File names of a version as the trainer writes them (the layout tfjs `model.save` uses). */
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'group1-shard1of1.bin';
export const SIDECAR_FILE = 'streamcell.json';

/**
 * The `streamcell.json` sidecar as the trainer writes and reads it: what the model needs around
 * the tfjs layers model to turn events into inputs and outputs into predictions.
 */
export interface TrainerSidecar {
  readonly format: 'streamcell-sidecar';
  readonly formatVersion: 1;
  readonly task: 'forecast' | 'classify';
  /** forecast: `features` values per step, trained on windows of `window` steps. classify: token ids. */
  readonly input:
    | { readonly kind: 'features'; readonly features: number; readonly window: number }
    | { readonly kind: 'tokens'; readonly maxlen: number; readonly padding: 'pre'; readonly truncating: 'pre' };
  readonly scaler?: StandardScalerJson;
  /** forecast: how many future values of feature 0 the head predicts. */
  readonly horizon?: number;
  readonly tokenizer?: KerasTokenizerJson;
  readonly labels?: readonly string[];
  /** classify: sigmoid (one unit, labels[1] is positive) or softmax. */
  readonly output?: 'sigmoid' | 'softmax' | 'linear';
  readonly metrics?: Readonly<Record<string, number>>;
  /** sha256 of every other file of the version. */
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly bytes: number }>>;
}
