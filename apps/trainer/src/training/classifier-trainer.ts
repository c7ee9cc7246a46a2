import * as tf from '@tensorflow/tfjs';
import { Tokenizer, padSequences, type ClassifyInputSpec } from './preprocess';
import type { TextExample } from './dataset';
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

function encode(tokenizer: Tokenizer, texts: readonly string[], maxlen: number, padding: 'pre' | 'post' = 'pre'): tf.Tensor2D {
  const rows = padSequences(tokenizer.textsToSequences(texts), { maxlen, padding, truncating: 'pre' });
  const flat = new Int32Array(rows.length * maxlen);
  rows.forEach((r, i) => flat.set(r, i * maxlen));
  return tf.tensor2d(flat, [rows.length, maxlen], 'int32');
}

function targets(labels: number[], numClasses: number): tf.Tensor2D {
  if (numClasses === 2) return tf.tensor2d(labels, [labels.length, 1]);
  return tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as tf.Tensor2D;
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
  const x = encode(tokenizer, texts, input.maxTokens, input.padding);
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
): Promise<TrainResult<TextExample>> {
  const { train, holdout } = splitExamples(examples, p);
  const labels = [...new Set(train.map((e) => e.label))].sort();
  if (labels.length < 2) throw new Error(`need at least two labels in the training split, got ${labels.length}`);
  const tokenizer = new Tokenizer({ numWords: p.vocabSize, oovToken: '<OOV>' }).fitOnTexts(train.map((e) => e.text));
  const lengths = tokenizer.textsToSequences(train.map((e) => e.text)).map((s) => s.length);
  const maxlen = p.maxlen > 0 ? p.maxlen : Math.max(1, Math.min(100, Math.max(...lengths)));
  const vocab = Math.min(p.vocabSize, tokenizer.vocabularySize);
  const x = encode(tokenizer, train.map((e) => e.text), maxlen);
  const y = targets(train.map((e) => labels.indexOf(e.label)), labels.length);
  const known = holdout.filter((e) => labels.includes(e.label));
  const val = known.length > 0
    ? { x: encode(tokenizer, known.map((e) => e.text), maxlen), y: targets(known.map((e) => labels.indexOf(e.label)), labels.length) }
    : null;
  const model = buildClassifier(p, vocab, p.embeddingDim, maxlen, labels.length);
  model.compile({
    optimizer: tf.train.adam(p.learningRate),
    loss: labels.length === 2 ? 'binaryCrossentropy' : 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  let t0 = Date.now();
  await model.fit(x, y, {
    epochs: p.epochs,
    batchSize: p.batchSize,
    shuffle: false,
    verbose: 0,
    ...(val ? { validationData: [val.x, val.y] as [tf.Tensor, tf.Tensor] } : {}),
    callbacks: {
      onEpochEnd: async (epoch, logs) => {
        const dt = (Date.now() - t0) / 1000;
        const metrics: Record<string, number> = {};
        if (logs?.acc !== undefined) metrics.accuracy = Number(logs.acc);
        if (logs?.val_acc !== undefined) metrics.valAccuracy = Number(logs.val_acc);
        onEpoch({
          epoch: epoch + 1,
          epochs: p.epochs,
          loss: Number(logs?.loss),
          valLoss: logs?.val_loss !== undefined ? Number(logs.val_loss) : null,
          metrics,
          examplesPerSecond: train.length / Math.max(dt, 1e-9),
        });
        t0 = Date.now();
      },
    },
  });
  x.dispose();
  y.dispose();
  val?.x.dispose();
  val?.y.dispose();
  const sidecarBase = {
    task: 'classify' as const,
    name: meta.name,
    version: meta.versionLabel,
    // mask_zero: pre-padding leaves the state at zero, so a stream needs no padding prefix.
    input: { maxTokens: maxlen, paddingPrefix: 0, padding: 'pre' as const },
    tokenizer: tokenizer.toKerasJson(),
    labels,
    parent: meta.parent,
  };
  const metrics = holdout.length > 0 ? evaluateClassifier(model, sidecarBase, holdout) : {};
  const files = await modelToFiles(model, { ...sidecarBase, metrics });
  return { files, metrics, holdout, trainExamples: train.length, model };
}
