import { seededRandom } from '@app/lstm';
/**
 * Training-speed benchmark: tfjs-node (native TensorFlow backend) against the tfjs cpu backend,
 * in one process, on the two reference models of the trainer:
 *
 * - text classifier as in the classic Keras example: Embedding(1000, 32) -> LSTM(32, sigmoid
 *   recurrent activation) -> Dense(1, sigmoid), sequence length 50, batch 32;
 * - forecaster: LSTM(32) over length-50 windows of one feature -> Dense(1), batch 32.
 *
 * Each case trains one epoch on random data after a short warm-up fit (--warmup batches, default
 * 5, not timed: the first batches pay for JIT and kernel set-up)
 * and reports examples per second. `@tensorflow/tfjs-node` is optional: install it with
 * `scripts/tfjs-node/install.sh`; without it only the cpu backend is measured.
 *
 * Usage:
 *   node -r @swc-node/register bench/train/tfjs-node-train.bench.ts \
 *     [--variants tensorflow:fused,tensorflow:layers,cpu:layers] [--warmup 5] \
 *     [--text 2000] [--forecast 8000] \
 *     [--layers-text 2000] [--layers-forecast 2000] [--cpu-text 64] [--cpu-forecast 640] \
 *     [--batch 32] [--json out.json]
 * Variants are backend:lstm[:optimizer], lstm = layers (tf.layers.lstm) or fused
 * (tfjs-node-fused-lstm.ts, tensorflow backend only), optimizer = adam (default) or flat-adam
 * (tfjs-node-flat-adam.ts); --text/--forecast size the tensorflow:fused cases.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { defineFlatAdam } from './tfjs-node-flat-adam';
import { defineFusedLstm } from './tfjs-node-fused-lstm';

import type * as TfNs from '@tensorflow/tfjs';

type Tf = typeof TfNs;

/** `layers`: tf.layers.lstm (per-step ops); `fused`: one native BlockLSTMV2 op (tensorflow only). */
type LstmImpl = 'layers' | 'fused';
/** `adam`: tf.train.adam; `flat-adam`: tfjs-node-flat-adam.ts (one flat update for all weights). */
type OptimizerName = 'adam' | 'flat-adam';

interface CaseResult {
  backend: string;
  lstm: LstmImpl;
  optimizer: OptimizerName;
  model: 'text-classifier' | 'forecaster';
  examples: number;
  batchSize: number;
  warmupSeconds: number;
  epochSeconds: number;
  /** Process CPU time (user + system, all threads) spent in the timed epoch. */
  epochCpuSeconds: number;
  examplesPerSecond: number;
  loss: number;
}

const VOCAB = 1000;
const EMBED = 32;
const UNITS = 32;
const SEQ_LEN = 50;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Loads tfjs-node when it is installed (registering the `tensorflow` backend), else plain tfjs. */
function loadTf(): { tf: Tf; native: boolean; nativeError?: string } {
  const req = createRequire(__filename);
  try {
    const tf = req('@tensorflow/tfjs-node') as Tf;
    return { tf, native: true };
  } catch (e) {
    const tf = req('@tensorflow/tfjs') as Tf;
    return { tf, native: false, nativeError: (e as Error).message.split('\n')[0] };
  }
}

type LstmFactory = (opts: { units: number; inputShape?: number[] }) => TfNs.layers.Layer;

function lstmFactory(tf: Tf, impl: LstmImpl): LstmFactory {
  if (impl === 'fused') return defineFusedLstm(tf).layer;
  return (opts) => tf.layers.lstm({ ...opts, recurrentActivation: 'sigmoid' });
}

function makeOptimizer(tf: Tf, name: OptimizerName): TfNs.Optimizer {
  return name === 'flat-adam' ? defineFlatAdam(tf).flatAdam() : tf.train.adam();
}

function textModel(tf: Tf, lstm: LstmFactory, optimizer: TfNs.Optimizer) {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: VOCAB, outputDim: EMBED, inputLength: SEQ_LEN }));
  m.add(lstm({ units: UNITS }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  m.compile({ optimizer, loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return m;
}

function forecastModel(tf: Tf, lstm: LstmFactory, optimizer: TfNs.Optimizer) {
  const m = tf.sequential();
  m.add(lstm({ units: UNITS, inputShape: [SEQ_LEN, 1] }));
  m.add(tf.layers.dense({ units: 1 }));
  m.compile({ optimizer, loss: 'meanSquaredError' });
  return m;
}

function textData(tf: Tf, n: number) {
  const r = seededRandom(7);
  const ids = new Int32Array(n * SEQ_LEN);
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < SEQ_LEN; t++) ids[i * SEQ_LEN + t] = Math.floor(r() * VOCAB);
    labels[i] = r() < 0.5 ? 0 : 1;
  }
  return { x: tf.tensor2d(ids, [n, SEQ_LEN], 'int32'), y: tf.tensor2d(labels, [n, 1]) };
}

function forecastData(tf: Tf, n: number) {
  const r = seededRandom(11);
  const xs = new Float32Array(n * SEQ_LEN);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const phase = r() * 2 * Math.PI;
    const f = 0.05 + r() * 0.2;
    for (let t = 0; t <= SEQ_LEN; t++) {
      const v = Math.sin(phase + f * t) + 0.1 * (r() - 0.5);
      if (t < SEQ_LEN) xs[i * SEQ_LEN + t] = v;
      else ys[i] = v;
    }
  }
  return { x: tf.tensor3d(xs, [n, SEQ_LEN, 1]), y: tf.tensor2d(ys, [n, 1]) };
}

async function runCase(
  tf: Tf,
  backend: string,
  lstm: LstmImpl,
  optimizerName: OptimizerName,
  model: CaseResult['model'],
  examples: number,
  batchSize: number,
): Promise<CaseResult> {
  await tf.setBackend(backend);
  await tf.ready();
  const factory = lstmFactory(tf, lstm);
  const opt = makeOptimizer(tf, optimizerName);
  const m = model === 'text-classifier' ? textModel(tf, factory, opt) : forecastModel(tf, factory, opt);
  const { x, y } = model === 'text-classifier' ? textData(tf, examples) : forecastData(tf, examples);
  const warm = Math.min(examples, Number(arg('warmup', '5')) * batchSize);
  const xw = x.slice(0, warm);
  const yw = y.slice(0, warm);
  let t0 = process.hrtime.bigint();
  await m.fit(xw, yw, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
  const warmupSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const h = await m.fit(x, y, { epochs: 1, batchSize, shuffle: true, verbose: 0 });
  const epochSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const loss = Number(h.history.loss[0]);
  tf.dispose([x, y, xw, yw]);
  m.dispose();
  opt.dispose();
  return {
    backend,
    lstm,
    optimizer: optimizerName,
    model,
    examples,
    batchSize,
    warmupSeconds: round(warmupSeconds),
    epochSeconds: round(epochSeconds),
    epochCpuSeconds: round((cpu.user + cpu.system) / 1e6),
    examplesPerSecond: round(examples / epochSeconds),
    loss: round(loss),
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Checks that the fused layer computes what tf.layers.lstm (sigmoid recurrent activation)
 * computes, forward and backward, on shared random weights; returns the largest abs difference.
 */
function checkFused(tf: Tf): number {
  const { layer } = defineFusedLstm(tf);
  return tf.tidy(() => {
    let worst = 0;
    for (const returnSequences of [false, true]) {
      const [b, t, d, h] = [3, 6, 4, 5];
      const ref = tf.sequential({
        layers: [
          tf.layers.lstm({ units: h, recurrentActivation: 'sigmoid', returnSequences, inputShape: [t, d] }),
        ],
      });
      const fused = tf.sequential({ layers: [layer({ units: h, returnSequences, inputShape: [t, d] })] });
      const w = ref.getWeights().map((x) => tf.randomNormal(x.shape, 0, 0.5, 'float32', 3));
      ref.setWeights(w);
      fused.setWeights(w);
      const x = tf.randomNormal([b, t, d], 0, 1, 'float32', 5);
      const f = (m: typeof ref) => (xx: TfNs.Tensor) => tf.sum(tf.square(m.apply(xx) as TfNs.Tensor));
      const pairs: [TfNs.Tensor, TfNs.Tensor][] = [
        [ref.predict(x) as TfNs.Tensor, fused.predict(x) as TfNs.Tensor],
        [tf.grad(f(ref))(x), tf.grad(f(fused))(x)],
      ];
      const gr = tf.variableGrads(() => f(ref)(x) as TfNs.Scalar);
      const gf = tf.variableGrads(() => f(fused)(x) as TfNs.Scalar);
      for (const name of ['kernel', 'recurrent_kernel', 'bias']) {
        const a = Object.keys(gr.grads).find(
          (k) => k.startsWith(ref.layers[0].name + '/') && k.endsWith('/' + name),
        );
        const c = Object.keys(gf.grads).find(
          (k) => k.startsWith(fused.layers[0].name + '/') && k.endsWith('/' + name),
        );
        if (!a || !c) throw new Error(`no gradient for ${name}`);
        pairs.push([gr.grads[a], gf.grads[c]]);
      }
      for (const [a, c] of pairs) {
        if (a.shape.join() !== c.shape.join())
          throw new Error(`shape ${a.shape.join()} vs ${c.shape.join()}`);
        worst = Math.max(worst, tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]);
      }
      ref.dispose();
      fused.dispose();
    }
    return worst;
  });
}

/**
 * Checks that flat Adam updates variables as tf.train.adam does: same start values, same
 * gradients for a few steps; returns the largest abs difference of the variables.
 */
function checkFlatAdam(tf: Tf): number {
  const shapes = [[7, 5], [5], [3, 4, 2]];
  const make = (tag: string) =>
    shapes.map((s, i) =>
      tf.variable(tf.randomNormal(s, 0, 1, 'float32', 10 + i), true, `flat-adam-check-${tag}-${i}`),
    );
  const a = make('ref');
  const b = make('flat');
  const ref = tf.train.adam(0.01);
  const flat = defineFlatAdam(tf).flatAdam(0.01);
  for (let step = 0; step < 5; step++) {
    const grads = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 100 * step + i));
    ref.applyGradients(a.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    flat.applyGradients(b.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    tf.dispose(grads);
  }
  const worst = Math.max(...a.map((v, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(v, b[i]))).dataSync()[0])));
  ref.dispose();
  flat.dispose();
  tf.dispose([...a, ...b]);
  return worst;
}

async function main(): Promise<void> {
  const { tf, native, nativeError } = loadTf();
  const batch = Number(arg('batch', '32'));
  const variants = arg('variants', native ? 'tensorflow:fused,tensorflow:layers,cpu:layers' : 'cpu:layers')
    .split(',')
    .map((v) => {
      const [backend, lstm, optimizer] = v.split(':');
      return [backend, lstm as LstmImpl, (optimizer ?? 'adam') as OptimizerName] as const;
    });
  const sizes: Record<string, { text: number; forecast: number }> = {
    'tensorflow:fused': { text: Number(arg('text', '2000')), forecast: Number(arg('forecast', '8000')) },
    'tensorflow:layers': {
      text: Number(arg('layers-text', '2000')),
      forecast: Number(arg('layers-forecast', '2000')),
    },
    'cpu:layers': { text: Number(arg('cpu-text', '64')), forecast: Number(arg('cpu-forecast', '640')) },
  };
  if (!native) console.log(`tfjs-node not loaded (${nativeError}); measuring the cpu backend only`);
  let fusedCheck: number | undefined;
  if (native && variants.some(([, impl]) => impl === 'fused')) {
    await tf.setBackend('tensorflow');
    fusedCheck = checkFused(tf);
    console.log(
      `fused LSTM vs tf.layers.lstm: max abs difference ${fusedCheck.toExponential(2)} (outputs and gradients)`,
    );
    if (!(fusedCheck < 1e-4)) throw new Error('fused LSTM does not match tf.layers.lstm');
  }
  let flatAdamCheck: number | undefined;
  if (variants.some(([, , optimizer]) => optimizer === 'flat-adam')) {
    flatAdamCheck = checkFlatAdam(tf);
    console.log(`flat Adam vs tf.train.adam: max abs difference ${flatAdamCheck.toExponential(2)} (5 steps)`);
    if (!(flatAdamCheck < 1e-5)) throw new Error('flat Adam does not match tf.train.adam');
  }
  const results: CaseResult[] = [];
  for (const [backend, lstm, optimizer] of variants) {
    if (backend === 'tensorflow' && !native) continue;
    const n = sizes[`${backend}:${lstm}`] ?? sizes['cpu:layers'];
    const label = `${backend}:${lstm}${optimizer === 'adam' ? '' : ':' + optimizer}`;
    for (const model of ['text-classifier', 'forecaster'] as const) {
      const r = await runCase(
        tf,
        backend,
        lstm,
        optimizer,
        model,
        model === 'text-classifier' ? n.text : n.forecast,
        batch,
      );
      results.push(r);
      console.log(
        `${label.padEnd(27)} ${r.model.padEnd(16)} n=${String(r.examples).padStart(6)} ` +
          `epoch ${r.epochSeconds.toFixed(2).padStart(8)} s  ${r.examplesPerSecond.toFixed(0).padStart(7)} examples/s ` +
          `(cpu ${r.epochCpuSeconds.toFixed(2)} s, warm-up ${r.warmupSeconds.toFixed(2)} s, loss ${r.loss})`,
      );
    }
  }
  const out = arg('json', '');
  if (out) {
    const meta = {
      tfjs: tf.version.tfjs,
      native,
      fusedCheck,
      flatAdamCheck,
      cores: cpus().length,
      load: loadavg(),
    };
    writeFileSync(out, JSON.stringify({ meta, results }, null, 2));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
