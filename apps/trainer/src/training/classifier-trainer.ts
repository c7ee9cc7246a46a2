import * as tf from '@tensorflow/tfjs';
import { Tokenizer, padSequences, type ClassifyInputSpec } from './preprocess';
import type { TextExample } from './dataset';
import { fitRecurrentModel, type FitRouteChoice, type FitSet } from './fit-loop';
import type { ArtifactMeta, TrainResult } from './forecaster-trainer';
import { classificationMetrics } from './metrics';
import { seededShuffle } from './seeded-random';
import type { TrainerSidecar } from './sidecar';
import { modelToFiles } from './tf-artifact';
import { buildClassifier } from './tf-models';
import type { EpochProgress, TrainParams } from './train-params';

/** Seeded shuffle, then the last `validationSplit` of the examples is the holdout. */
export function splitExamples(
  examples: readonly TextExample[],
  p: Pick<TrainParams, 'validationSplit' | 'seed'>,
): { train: TextExample[]; holdout: TextExample[] } {
  if (examples.length === 0) throw new Error('no labelled text examples in the selected data');
  const shuffled = seededShuffle(examples, p.seed);
  const nHold = p.validationSplit > 0 ? Math.max(1, Math.round(shuffled.length * p.validationSplit)) : 0;
  return { train: shuffled.slice(0, shuffled.length - nHold), holdout: shuffled.slice(shuffled.length - nHold) };
}

/** Token ids of texts, pre- or post-padded/truncated to maxlen (Keras pad_sequences), n × maxlen row-major. */
function encodeIds(tokenizer: Tokenizer, texts: readonly string[], maxlen: number, padding: 'pre' | 'post' = 'pre'): Int32Array {
  const rows = padSequences(tokenizer.textsToSequences(texts), { maxlen, padding, truncating: 'pre' });
  const flat = new Int32Array(rows.length * maxlen);
  rows.forEach((r, i) => flat.set(r, i * maxlen));
  return flat;
}

/** Targets: the label index (two labels, sigmoid head) or one-hot rows (softmax head). */
function targets(labels: readonly number[], numClasses: number): Float32Array {
  if (numClasses === 2) return Float32Array.from(labels);
  const y = new Float32Array(labels.length * numClasses);
  labels.forEach((l, i) => (y[i * numClasses + l] = 1));
  return y;
}

/** Per-class probabilities of every text under a classifier + its sidecar. */
export function predictClasses(
  model: tf.LayersModel,
  sidecar: Pick<TrainerSidecar, 'tokenizer' | 'input' | 'labels'>,
  texts: readonly string[],
): Float32Array[] {
  if (!sidecar.tokenizer) throw new Error('classify sidecar has no tokenizer');
  const input = sidecar.input as ClassifyInputSpec;
  const tokenizer = Tokenizer.fromKerasJson(sidecar.tokenizer);
  const x = tf.tensor2d(encodeIds(tokenizer, texts, input.maxTokens, input.padding), [texts.length, input.maxTokens], 'int32');
  const out = model.predict(x) as tf.Tensor;
  const data = out.dataSync() as Float32Array;
  const width = out.shape[1] ?? 1;
  x.dispose();
  out.dispose();
  const probs: Float32Array[] = [];
  for (let i = 0; i < texts.length; i++) {
    if (width === 1) probs.push(Float32Array.of(1 - data[i], data[i]));
    else probs.push(data.slice(i * width, (i + 1) * width));
  }
  return probs;
}

/**
 * Accuracy, F1 and log loss on labelled texts. Labels the model does not know count as
 * wrong with probability 1e-7 (so a model with a different label set compares fairly).
 */
export function evaluateClassifier(
  model: tf.LayersModel,
  sidecar: Pick<TrainerSidecar, 'tokenizer' | 'input' | 'labels'>,
  examples: readonly TextExample[],
): { accuracy: number; f1: number; logLoss: number } {
  const labels = sidecar.labels ?? [];
  const probs = predictClasses(model, sidecar, examples.map((e) => e.text));
  const y = examples.map((e) => {
    const i = labels.indexOf(e.label);
    return i >= 0 ? i : labels.length;
  });
  // Held-out labels this model never saw form one extra class it always gets wrong.
  const k = Math.max(labels.length, probs[0]?.length ?? 0) + (y.some((v) => v === labels.length) ? 1 : 0);
  const padded = probs.map((p) => {
    const q = new Float32Array(k);
    q.set(p.subarray(0, k));
    return q;
  });
  return classificationMetrics(y, padded, k);
}

/** Trains a text classifier: Keras Tokenizer → pad_sequences → Embedding → LSTM → Dense. */
export async function trainClassifier(
  examples: readonly TextExample[],
  p: TrainParams,
  onEpoch: (e: EpochProgress) => void,
  meta: ArtifactMeta = { name: 'classifier', versionLabel: 'trained', parent: null },
  route: FitRouteChoice = 'auto',
): Promise<TrainResult<TextExample>> {
  const { train, holdout } = splitExamples(examples, p);
  const labels = [...new Set(train.map((e) => e.label))].sort();
  if (labels.length < 2) throw new Error(`need at least two labels in the training split, got ${labels.length}`);
  const tokenizer = new Tokenizer({ numWords: p.vocabSize, oovToken: '<OOV>' }).fitOnTexts(train.map((e) => e.text));
  const lengths = tokenizer.textsToSequences(train.map((e) => e.text)).map((s) => s.length);
  const maxlen = p.maxlen > 0 ? p.maxlen : Math.max(1, Math.min(100, Math.max(...lengths)));
  const vocab = Math.min(p.vocabSize, tokenizer.vocabularySize);
  const numClasses = labels.length;
  const toSet = (list: readonly TextExample[]): FitSet => ({
    x: encodeIds(tokenizer, list.map((e) => e.text), maxlen),
    y: targets(list.map((e) => labels.indexOf(e.label)), numClasses),
    n: list.length,
  });
  const known = holdout.filter((e) => labels.includes(e.label));
  const model = buildClassifier(p, vocab, p.embeddingDim, maxlen, numClasses);
  const fit = await fitRecurrentModel(model, maxlen, toSet(train), known.length > 0 ? toSet(known) : null, p, onEpoch, route);
  const sidecarBase = {
    task: 'classify' as const,
    name: meta.name,
    version: meta.versionLabel,
    // mask_zero: pre-padding leaves the state at zero, so a stream needs no padding prefix.
    input: { maxTokens: maxlen, paddingPrefix: 0, padding: 'pre' as const, mode: p.textMode },
    tokenizer: tokenizer.toKerasJson(),
    labels,
    parent: meta.parent,
  };
  const metrics = holdout.length > 0 ? evaluateClassifier(model, sidecarBase, holdout) : {};
  const files = await modelToFiles(model, { ...sidecarBase, metrics });
  return { files, metrics, holdout, trainExamples: train.length, model, route: fit.route };
}
