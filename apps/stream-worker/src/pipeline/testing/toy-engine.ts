import type { ServingModel, StepEngine, SwapPolicy } from '../../model/serving-model';

import { seededRandom as mulberry32 } from '@app/lstm';

/** The project's seeded PRNG (mulberry32), under the name these tests use. */
export { mulberry32 };

/**
 * A deterministic Elman RNN engine (h' = tanh(W·x + U·h + b), state = h) with a linear or
 * sigmoid head, used to test the processor's scheduling independently of @app/lstm: the
 * processor must give each key exactly what stepping that key alone would give.
 */
export class ToyEngine implements StepEngine {
  readonly stateSize: number;
  readonly inputDim: number;
  readonly outputDim: number;
  readonly vocabularySize: number;
  private readonly w: Float32Array;
  private readonly u: Float32Array;
  private readonly b: Float32Array;
  private readonly hw: Float32Array;
  private readonly emb: Float32Array;
  calls = { step: 0, stepTokens: 0, head: 0 };

  constructor(
    opts: { units: number; inputDim: number; outputDim: number; vocab?: number; sigmoidHead?: boolean },
    seed = 1,
  ) {
    const r = mulberry32(seed);
    const rnd = (n: number) => Float32Array.from({ length: n }, () => r() - 0.5);
    this.stateSize = opts.units;
    this.inputDim = opts.inputDim;
    this.outputDim = opts.outputDim;
    this.vocabularySize = opts.vocab ?? 0;
    this.w = rnd(opts.inputDim * opts.units);
    this.u = rnd(opts.units * opts.units);
    this.b = rnd(opts.units);
    this.hw = rnd(opts.units * opts.outputDim);
    this.emb = rnd(Math.max(1, this.vocabularySize) * opts.inputDim);
    this.sigmoidHead = opts.sigmoidHead ?? false;
  }
  private readonly sigmoidHead: boolean;

  private stepRow(x: Float32Array, xo: number, state: Float32Array, so: number): void {
    const H = this.stateSize;
    const D = this.inputDim;
    const next = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      let s = this.b[j];
      for (let i = 0; i < D; i++) s += x[xo + i] * this.w[i * H + j];
      for (let i = 0; i < H; i++) s += state[so + i] * this.u[i * H + j];
      next[j] = Math.tanh(s);
    }
    state.set(next, so);
  }

  step(batch: number, x: Float32Array, state: Float32Array): void {
    this.calls.step++;
    for (let k = 0; k < batch; k++) this.stepRow(x, k * this.inputDim, state, k * this.stateSize);
  }

  stepTokens(batch: number, tokenIds: Int32Array, state: Float32Array): void {
    this.calls.stepTokens++;
    for (let k = 0; k < batch; k++) {
      const t = tokenIds[k];
      if (t < 0 || t >= this.vocabularySize) throw new RangeError(`token ${t}`);
      this.stepRow(this.emb, t * this.inputDim, state, k * this.stateSize);
    }
  }

  head(batch: number, state: Float32Array, out: Float32Array): void {
    this.calls.head++;
    const H = this.stateSize;
    const O = this.outputDim;
    for (let k = 0; k < batch; k++) {
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let i = 0; i < H; i++) s += state[k * H + i] * this.hw[i * O + o];
        out[k * O + o] = this.sigmoidHead ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
  }
}

/** A forecast ServingModel around a ToyEngine. */
export function toyForecaster(version = 1, policy: SwapPolicy = 'reset', seed = 1, units = 4): ServingModel {
  const engine = new ToyEngine({ units, inputDim: 2, outputDim: 3 }, seed);
  return {
    name: 'forecaster',
    version,
    versionLabel: String(version),
    engine,
    task: {
      kind: 'forecast',
      valueCount: 1,
      includeTimeDelta: true,
      mean: Float64Array.of(20, 1),
      scale: Float64Array.of(5, 2),
      horizon: 3,
      targetIndex: Int32Array.of(0),
    },
    initialState: new Float32Array(units),
    policy,
  };
}

/** A binary classify ServingModel around a ToyEngine (word ids: position in `vocab`, 1-based). */
export function toyClassifier(version = 1, seed = 2): ServingModel {
  const words = ['pump', 'broken', 'fine', 'again', 'ok', 'bad'];
  const engine = new ToyEngine(
    { units: 3, inputDim: 2, outputDim: 1, vocab: words.length + 1, sigmoidHead: true },
    seed,
  );
  return {
    name: 'classifier',
    version,
    versionLabel: String(version),
    engine,
    task: {
      kind: 'classify',
      tokenize: (text: string) =>
        text
          .toLowerCase()
          .split(/\s+/)
          .map((w) => words.indexOf(w) + 1)
          .filter((i) => i > 0),
      labels: ['neg', 'pos'],
      binarySigmoid: true,
    },
    initialState: new Float32Array(3),
    policy: 'reset',
  };
}
