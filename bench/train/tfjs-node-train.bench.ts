/**
 * Training-speed benchmark: tfjs-node (native TensorFlow backend) against the tfjs cpu backend,
 * in one process, on the two reference models of the trainer:
 *
 * - text classifier as in the classic Keras example: Embedding(1000, 32) -> LSTM(32, sigmoid
 *   recurrent activation) -> Dense(1, sigmoid), sequence length 50, batch 32;
 * - forecaster: LSTM(32) over length-50 windows of one feature -> Dense(1), batch 32.
 *
 * Each case trains one epoch on random data after a short warm-up fit (two batches, not timed)
 * and reports examples per second. `@tensorflow/tfjs-node` is optional: install it with
 * `scripts/tfjs-node/install.sh`; without it only the cpu backend is measured.
 *
 * Usage:
 *   node -r @swc-node/register bench/train/tfjs-node-train.bench.ts \
 *     [--backends tensorflow,cpu] [--text 2000] [--forecast 8000] [--cpu-text 64] \
 *     [--cpu-forecast 640] [--batch 32] [--json out.json]
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

type Tf = typeof import('@tensorflow/tfjs');

interface CaseResult {
  backend: string;
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

/** Deterministic pseudo-random numbers (mulberry32), so every backend sees the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function textModel(tf: Tf) {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: VOCAB, outputDim: EMBED, inputLength: SEQ_LEN }));
  m.add(tf.layers.lstm({ units: UNITS, recurrentActivation: 'sigmoid' }));
  m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
  m.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return m;
}

function forecastModel(tf: Tf) {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units: UNITS, recurrentActivation: 'sigmoid', inputShape: [SEQ_LEN, 1] }));
  m.add(tf.layers.dense({ units: 1 }));
  m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  return m;
}

function textData(tf: Tf, n: number) {
  const r = rng(7);
  const ids = new Int32Array(n * SEQ_LEN);
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < SEQ_LEN; t++) ids[i * SEQ_LEN + t] = Math.floor(r() * VOCAB);
    labels[i] = r() < 0.5 ? 0 : 1;
  }
  return { x: tf.tensor2d(ids, [n, SEQ_LEN], 'int32'), y: tf.tensor2d(labels, [n, 1]) };
}

function forecastData(tf: Tf, n: number) {
  const r = rng(11);
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
  model: CaseResult['model'],
  examples: number,
  batchSize: number,
): Promise<CaseResult> {
  await tf.setBackend(backend);
  await tf.ready();
  const m = model === 'text-classifier' ? textModel(tf) : forecastModel(tf);
  const { x, y } = model === 'text-classifier' ? textData(tf, examples) : forecastData(tf, examples);
  const warm = Math.min(examples, 2 * batchSize);
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
  return {
    backend,
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

async function main(): Promise<void> {
  const { tf, native, nativeError } = loadTf();
  const batch = Number(arg('batch', '32'));
  const requested = arg('backends', native ? 'tensorflow,cpu' : 'cpu').split(',');
  const sizes: Record<string, { text: number; forecast: number }> = {
    tensorflow: { text: Number(arg('text', '2000')), forecast: Number(arg('forecast', '8000')) },
    cpu: { text: Number(arg('cpu-text', '64')), forecast: Number(arg('cpu-forecast', '640')) },
  };
  if (!native) console.log(`tfjs-node not loaded (${nativeError}); measuring the cpu backend only`);
  const results: CaseResult[] = [];
  for (const backend of requested) {
    if (backend === 'tensorflow' && !native) continue;
    const n = sizes[backend] ?? sizes.cpu;
    for (const model of ['text-classifier', 'forecaster'] as const) {
      const r = await runCase(tf, backend, model, model === 'text-classifier' ? n.text : n.forecast, batch);
      results.push(r);
      console.log(
        `${r.backend.padEnd(10)} ${r.model.padEnd(16)} n=${String(r.examples).padStart(6)} ` +
          `epoch ${r.epochSeconds.toFixed(2).padStart(8)} s  ${r.examplesPerSecond.toFixed(0).padStart(7)} examples/s ` +
          `(cpu ${r.epochCpuSeconds.toFixed(2)} s, warm-up ${r.warmupSeconds.toFixed(2)} s, loss ${r.loss})`,
      );
    }
  }
  const out = arg('json', '');
  if (out) {
    const meta = { tfjs: tf.version.tfjs, native, cores: (await import('node:os')).cpus().length };
    writeFileSync(out, JSON.stringify({ meta, results }, null, 2));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
