/**
 * Training throughput of the trainer's reference models, one JSON line per (backend, model):
 *
 * - text: the classic Keras text classifier: Embedding(1000, 32) → LSTM(32, sigmoid recurrent
 *   activation) → Dense(1, sigmoid), sequence length 50, batch 32, Adam, binary cross-entropy;
 * - forecast: LSTM(32) over length-50 windows of one feature → Dense(1), batch 32, Adam, MSE.
 *
 * Backends: `simd` = the WASM SIMD training kernel (apps/trainer/src/training/simd-lstm-trainer.ts
 * on libs/lstm/wasm/assembly/train.ts); `trainer` = the trainer's own trainClassifier /
 * trainForecaster (what ships: the SIMD kernel through the fit loop, plus tokenizing, validation
 * each epoch, holdout evaluation and the artifact); `js` = the hand-written scalar BPTT
 * (apps/trainer/src/training/js-lstm-trainer.ts, gradients checked against tfjs-layers); tfjs
 * `cpu`; tfjs `wasm` (text only with the UnsortedSegmentSum kernel the trainer registers, see
 * apps/trainer/src/training/wasm-kernels.ts; reported as failing without it).
 * Each case: warm-up fit on 2 batches (not timed), then one timed epoch on random data.
 * Reports wall-clock examples/s and examples per CPU-second of this process (the latter is the
 * comparable figure on a shared, loaded machine: each case runs on one thread).
 *
 *   npm run bench:train -- [--cases simd:text,trainer:text,cpu:forecast,wasm:text,wasm-nokernel:text,...]
 *        [--n-cpu-text 96] [--n-text 640] [--n-forecast 1280] [--n-simd 6400] [--n-trainer 12800] [--out bench/train/results.jsonl]
 */
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '@app/lstm';
import { trainClassifier } from '../../apps/trainer/src/training/classifier-trainer';
import type { SensorReading, TextExample } from '../../apps/trainer/src/training/dataset';
import { trainForecaster } from '../../apps/trainer/src/training/forecaster-trainer';
import { JsLstmTrainer } from '../../apps/trainer/src/training/js-lstm-trainer';
import { SimdLstmTrainer } from '../../apps/trainer/src/training/simd-lstm-trainer';
import { withDefaults, type EpochProgress } from '../../apps/trainer/src/training/train-params';
import { registerWasmTrainingKernels } from '../../apps/trainer/src/training/wasm-kernels';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const VOCAB = 1000;
const EMBED = 32;
/** LSTM units of both models (`--units`, default 32 as in the targets). */
const UNITS = Number(arg('units', '32'));
const LEN = 50;
const BATCH = 32;

function textModel(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: VOCAB, outputDim: EMBED, inputLength: LEN }));
  m.add(tf.layers.lstm({ units: UNITS, recurrentActivation: 'sigmoid' }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return m;
}

function forecastModel(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units: UNITS, recurrentActivation: 'sigmoid', inputShape: [LEN, 1] }));
  m.add(tf.layers.dense({ units: 1 }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  return m;
}

function data(model: 'text' | 'forecast', n: number): [tf.Tensor, tf.Tensor] {
  if (model === 'text') {
    const ids = new Int32Array(n * LEN);
    for (let i = 0; i < ids.length; i++) ids[i] = 1 + Math.floor(Math.random() * (VOCAB - 1));
    return [tf.tensor2d(ids, [n, LEN], 'int32'), tf.tensor2d(Float32Array.from({ length: n }, () => (Math.random() < 0.5 ? 0 : 1)), [n, 1])];
  }
  return [tf.randomNormal([n, LEN, 1]), tf.randomNormal([n, 1])];
}

/** A trainer outside tfjs (the scalar JS BPTT or the SIMD kernel) on the same model shapes, Adam, batch 32. */
function runDirect(kind: 'js' | 'simd', model: 'text' | 'forecast', n: number): Record<string, unknown> {
  const r = () => (Math.random() * 2 - 1) * 0.1;
  const D = model === 'text' ? EMBED : 1;
  const fill = (k: number) => Float32Array.from({ length: k }, r);
  const w = {
    embeddings: model === 'text' ? fill(VOCAB * EMBED) : null,
    kernel: fill(D * 4 * UNITS),
    recurrentKernel: fill(UNITS * 4 * UNITS),
    bias: new Float32Array(4 * UNITS),
    denseKernel: fill(UNITS),
    denseBias: new Float32Array(1),
  };
  const head = model === 'text' ? 'sigmoid' : 'linear';
  const trainer =
    kind === 'js'
      ? new JsLstmTrainer({ vocab: model === 'text' ? VOCAB : 0, inputDim: D, units: UNITS, outputs: 1, head }, w)
      : simdTrainer(model, D, head, [w.embeddings, w.kernel, w.recurrentKernel, w.bias, w.denseKernel, w.denseBias].filter((a): a is Float32Array => a !== null));
  const x = model === 'text' ? Int32Array.from({ length: n * LEN }, () => 1 + Math.floor(Math.random() * (VOCAB - 1))) : Float32Array.from({ length: n * LEN }, () => Math.random() * 2 - 1);
  const y = Float32Array.from({ length: n }, () => (model === 'text' ? (Math.random() < 0.5 ? 0 : 1) : Math.random()));
  const per = LEN;
  const batch = (i: number) => [x.subarray(i * BATCH * per, (i + 1) * BATCH * per), y.subarray(i * BATCH, (i + 1) * BATCH)] as const;
  // Warm-up (not timed): long enough for V8 to tier the kernel's WASM up from its baseline compiler.
  const warm = kind === 'simd' ? 20 : 2;
  for (let i = 0; i < warm; i++) trainer.trainBatch(...batch(i % Math.floor(n / BATCH)), BATCH, LEN, 1e-3);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let loss = 0;
  const nb = Math.floor(n / BATCH);
  for (let i = 0; i < nb; i++) loss = trainer.trainBatch(...batch(i), BATCH, LEN, 1e-3);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  return { ok: true, examples: nb * BATCH, seconds, cpuSeconds, examplesPerSecond: (nb * BATCH) / seconds, examplesPerCpuSecond: (nb * BATCH) / cpuSeconds, loss };
}

/** The SIMD kernel behind the JsLstmTrainer call shape (trainBatch(x, y, B, T, lr) → loss). */
function simdTrainer(model: 'text' | 'forecast', D: number, head: 'sigmoid' | 'linear', weights: Float32Array[]) {
  const t = new SimdLstmTrainer({ vocab: model === 'text' ? VOCAB : 0, inputDim: D, units: UNITS, layers: 1, outputs: 1, head, steps: LEN, maxBatch: BATCH, maskZero: model === 'text' }, weights);
  return { trainBatch: (x: Int32Array | Float32Array, y: Float32Array, B: number, _T: number, lr: number) => t.trainBatch(x, y, B, lr).loss };
}

/**
 * The trainer's own training function on random data of the reference shapes (default parameters
 * otherwise: validation split 0.2, so 80% of n trains; 2 epochs). Per epoch: wall and CPU time
 * between epoch reports (training plus the validation pass); the last epoch is reported.
 */
async function runTrainer(model: 'text' | 'forecast', n: number): Promise<Record<string, unknown>> {
  const p = withDefaults({ epochs: 2, batchSize: BATCH, hiddenUnits: UNITS, embeddingDim: EMBED, vocabSize: VOCAB, maxlen: LEN, window: LEN, learningRate: 1e-3 });
  const epochs: (EpochProgress & { seconds: number; cpuSeconds: number })[] = [];
  let c0 = process.cpuUsage();
  let t0 = process.hrtime.bigint();
  const onEpoch = (e: EpochProgress) => {
    const cu = process.cpuUsage(c0);
    epochs.push({ ...e, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (cu.user + cu.system) / 1e6 });
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
  };
  const cAll = process.cpuUsage();
  const tAll = Date.now();
  let res: { route: string; trainExamples: number; model: tf.LayersModel };
  if (model === 'text') {
    const words = Array.from({ length: VOCAB - 2 }, (_, i) => `w${i}`);
    const examples: TextExample[] = Array.from({ length: n }, () => ({
      text: Array.from({ length: LEN }, () => words[Math.floor(Math.random() * words.length)]).join(' '),
      label: Math.random() < 0.5 ? 'a' : 'b',
    }));
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    res = await trainClassifier(examples, p, onEpoch);
  } else {
    // n windows: one sensor with n + window readings (the last 20% of windows are the holdout).
    const readings: SensorReading[] = Array.from({ length: Math.round(n / 0.8) + LEN }, (_, i) => ({ key: 's', ts: i * 1000, values: [Math.sin(i / 7) + Math.random() * 0.1] }));
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    res = await trainForecaster(readings, p, onEpoch);
  }
  const total = (Date.now() - tAll) / 1000;
  const cu = process.cpuUsage(cAll);
  res.model.dispose();
  const last = epochs[epochs.length - 1];
  const m = res.trainExamples;
  return {
    ok: true,
    route: res.route,
    examples: m,
    epochs: epochs.length,
    seconds: last.seconds,
    cpuSeconds: last.cpuSeconds,
    examplesPerSecond: m / last.seconds,
    examplesPerCpuSecond: m / last.cpuSeconds,
    reportedExamplesPerSecond: last.examplesPerSecond,
    totalSeconds: total,
    totalCpuSeconds: (cu.user + cu.system) / 1e6,
    loss: last.loss,
  };
}

async function runCase(backend: string, model: 'text' | 'forecast', n: number): Promise<Record<string, unknown>> {
  const base = { bench: 'train', model, batchSize: BATCH, seqLen: LEN, units: UNITS, node: process.version, cpus: cpus().length, loadavg1: loadavg()[0] };
  if (backend === 'js' || backend === 'simd') {
    return { ...base, backend: backend === 'js' ? 'js-bptt' : 'simd', ...runDirect(backend, model, n) };
  }
  if (backend === 'trainer') {
    // The trainer's tfjs backend is still initialised (evaluation and the artifact use tfjs).
    await initTfBackend('wasm');
    registerWasmTrainingKernels();
    return { ...base, backend: 'trainer', tfjs: tf.version.tfjs, ...(await runTrainer(model, n)) };
  }
  const tfBackend = backend.startsWith('wasm') ? 'wasm' : 'cpu';
  await initTfBackend(tfBackend);
  if (backend === 'wasm') registerWasmTrainingKernels();
  const tfBase = { ...base, backend, tfjs: tf.version.tfjs };
  const m = model === 'text' ? textModel() : forecastModel();
  const [wx, wy] = data(model, BATCH * 2);
  const [x, y] = data(model, n);
  try {
    const w0 = Date.now();
    await m.fit(wx, wy, { epochs: 1, batchSize: BATCH, verbose: 0 });
    const warmupSeconds = (Date.now() - w0) / 1000;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const h = await m.fit(x, y, { epochs: 1, batchSize: BATCH, verbose: 0, shuffle: false });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cu = process.cpuUsage(c0);
    const cpuSeconds = (cu.user + cu.system) / 1e6;
    return { ...tfBase, ok: true, examples: n, seconds, cpuSeconds, warmupSeconds, examplesPerSecond: n / seconds, examplesPerCpuSecond: n / cpuSeconds, loss: h.history.loss[0] };
  } catch (err) {
    return { ...tfBase, ok: false, error: (err as Error).message.split('\n')[0] };
  } finally {
    m.dispose();
    tf.dispose([wx, wy, x, y]);
  }
}

async function main(): Promise<void> {
  const cases = arg('cases', 'simd:text,simd:forecast,trainer:text,trainer:forecast,js:text,js:forecast,cpu:forecast,wasm:forecast,wasm-nokernel:text,wasm:text,cpu:text').split(',');
  const out = arg('out', '');
  const sizes: Record<string, number> = {
    'cpu:text': Number(arg('n-cpu-text', '96')),
    'cpu:forecast': Number(arg('n-cpu-forecast', '320')),
    'wasm:text': Number(arg('n-text', '640')),
    'wasm-nokernel:text': BATCH * 2,
    'wasm:forecast': Number(arg('n-forecast', '1280')),
    'js:text': Number(arg('n-js-text', '1280')),
    'js:forecast': Number(arg('n-js-forecast', '2560')),
    'simd:text': Number(arg('n-simd', '6400')),
    'simd:forecast': Number(arg('n-simd', '6400')),
    'trainer:text': Number(arg('n-trainer', '12800')),
    'trainer:forecast': Number(arg('n-trainer', '12800')),
  };
  // wasm-nokernel must run before the kernel is registered (registration is process-wide).
  cases.sort((a, b) => (a.startsWith('wasm-nokernel') ? -1 : b.startsWith('wasm-nokernel') ? 1 : 0));
  for (const c of cases) {
    const [backend, model] = c.split(':') as [string, 'text' | 'forecast'];
    const r = await runCase(backend, model, sizes[c] ?? 256);
    const line = JSON.stringify({ ...r, units: UNITS, at: new Date().toISOString() });
    console.log(line);
    if (out) appendFileSync(out, line + '\n');
  }
}

void main();
