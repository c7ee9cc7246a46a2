/**
 * Training throughput of the trainer's reference models, one JSON line per (backend, model):
 *
 * - text: the classic Keras text classifier: Embedding(1000, 32) → LSTM(32, sigmoid recurrent
 *   activation) → Dense(1, sigmoid), sequence length 50, batch 32, Adam, binary cross-entropy;
 * - forecast: LSTM(32) over length-50 windows of one feature → Dense(1), batch 32, Adam, MSE.
 *
 * Backends: `js` = the trainer's hand-written BPTT (apps/trainer/src/training/js-lstm-trainer.ts,
 * gradients checked against tfjs-layers); tfjs `cpu`; tfjs `wasm` (text only with the UnsortedSegmentSum kernel the trainer
 * registers, see apps/trainer/src/training/wasm-kernels.ts; reported as failing without it).
 * Each case: warm-up fit on 2 batches (not timed), then one timed epoch on random data.
 * Reports wall-clock examples/s and examples per CPU-second of this process (the latter is the
 * comparable figure on a shared, loaded machine: each case runs on one thread).
 *
 *   node -r @swc-node/register bench/train/train.bench.ts [--cases cpu:text,cpu:forecast,wasm:text,wasm:forecast,wasm-nokernel:text]
 *        [--n-cpu-text 96] [--n-text 640] [--n-forecast 1280] [--out bench/train/results.jsonl]
 */
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '@app/lstm';
import { JsLstmTrainer } from '../../apps/trainer/src/training/js-lstm-trainer';
import { registerWasmTrainingKernels } from '../../apps/trainer/src/training/wasm-kernels';

const VOCAB = 1000;
const EMBED = 32;
const UNITS = 32;
const LEN = 50;
const BATCH = 32;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

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

/** The hand-written BPTT trainer (no tfjs in the loop); same model shapes, Adam, batch 32. */
function runJs(model: 'text' | 'forecast', n: number): Record<string, unknown> {
  const r = () => (Math.random() * 2 - 1) * 0.1;
  const D = model === 'text' ? EMBED : 1;
  const fill = (k: number) => Float32Array.from({ length: k }, r);
  const trainer = new JsLstmTrainer(
    { vocab: model === 'text' ? VOCAB : 0, inputDim: D, units: UNITS, outputs: 1, head: model === 'text' ? 'sigmoid' : 'linear' },
    {
      embeddings: model === 'text' ? fill(VOCAB * EMBED) : null,
      kernel: fill(D * 4 * UNITS),
      recurrentKernel: fill(UNITS * 4 * UNITS),
      bias: new Float32Array(4 * UNITS),
      denseKernel: fill(UNITS),
      denseBias: new Float32Array(1),
    },
  );
  const x = model === 'text' ? Int32Array.from({ length: n * LEN }, () => 1 + Math.floor(Math.random() * (VOCAB - 1))) : Float32Array.from({ length: n * LEN }, () => Math.random() * 2 - 1);
  const y = Float32Array.from({ length: n }, () => (model === 'text' ? (Math.random() < 0.5 ? 0 : 1) : Math.random()));
  const per = model === 'text' ? LEN : LEN;
  const batch = (i: number) => [x.subarray(i * BATCH * per, (i + 1) * BATCH * per), y.subarray(i * BATCH, (i + 1) * BATCH)] as const;
  for (let i = 0; i < 2; i++) trainer.trainBatch(...batch(i), BATCH, LEN, 1e-3);
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

async function runCase(backend: string, model: 'text' | 'forecast', n: number): Promise<Record<string, unknown>> {
  if (backend === 'js') {
    return { bench: 'train', backend: 'js-bptt', model, batchSize: BATCH, seqLen: LEN, units: UNITS, node: process.version, cpus: cpus().length, loadavg1: loadavg()[0], ...runJs(model, n) };
  }
  const tfBackend = backend.startsWith('wasm') ? 'wasm' : 'cpu';
  await initTfBackend(tfBackend);
  if (backend === 'wasm') registerWasmTrainingKernels();
  const base = { bench: 'train', backend, model, batchSize: BATCH, seqLen: LEN, units: UNITS, node: process.version, cpus: cpus().length, loadavg1: loadavg()[0], tfjs: tf.version.tfjs };
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
    return { ...base, ok: true, examples: n, seconds, cpuSeconds, warmupSeconds, examplesPerSecond: n / seconds, examplesPerCpuSecond: n / cpuSeconds, loss: h.history.loss[0] };
  } catch (err) {
    return { ...base, ok: false, error: (err as Error).message.split('\n')[0] };
  } finally {
    m.dispose();
    tf.dispose([wx, wy, x, y]);
  }
}

async function main(): Promise<void> {
  const cases = arg('cases', 'js:text,js:forecast,cpu:forecast,wasm:forecast,wasm-nokernel:text,wasm:text,cpu:text').split(',');
  const out = arg('out', '');
  const sizes: Record<string, number> = {
    'cpu:text': Number(arg('n-cpu-text', '96')),
    'cpu:forecast': Number(arg('n-cpu-forecast', '320')),
    'wasm:text': Number(arg('n-text', '640')),
    'wasm-nokernel:text': BATCH * 2,
    'wasm:forecast': Number(arg('n-forecast', '1280')),
    'js:text': Number(arg('n-js-text', '1280')),
    'js:forecast': Number(arg('n-js-forecast', '2560')),
  };
  // wasm-nokernel must run before the kernel is registered (registration is process-wide).
  cases.sort((a, b) => (a.startsWith('wasm-nokernel') ? -1 : b.startsWith('wasm-nokernel') ? 1 : 0));
  for (const c of cases) {
    const [backend, model] = c.split(':') as [string, 'text' | 'forecast'];
    const r = await runCase(backend, model, sizes[c] ?? 256);
    const line = JSON.stringify({ ...r, at: new Date().toISOString() });
    console.log(line);
    if (out) appendFileSync(out, line + '\n');
  }
}

void main();
