import type {
  Activation,
  DenseLayerSpec,
  EmbeddingSpec,
  RecurrentLayerSpec,
  RecurrentModelSpec,
} from './model-spec';

/** Options of {@link randomRecurrentModelSpec}. */
export interface RandomModelOptions {
  readonly cell: 'lstm' | 'gru';
  /** Features per step (ignored when `vocabulary` is set: the embedding width is used). */
  readonly inputDim: number;
  /** Units of each stacked recurrent layer. */
  readonly units: readonly number[];
  /** GRU only; default true (Keras 2 default). */
  readonly resetAfter?: boolean;
  /** Default true. */
  readonly useBias?: boolean;
  readonly activation?: Activation;
  readonly recurrentActivation?: Activation;
  /** Dense head: units and activation of each layer. Default none. */
  readonly head?: readonly { units: number; activation: Activation; useBias?: boolean }[];
  /** With an embedding: vocabulary size (embedding width = inputDim). */
  readonly vocabulary?: number;
  readonly maskZero?: boolean;
  /** Weights are uniform in [-scale, scale]. Default 0.5. */
  readonly scale?: number;
  readonly seed?: number;
}

/** Deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A model spec with seeded random weights, for parity tests and kernel benchmarks.
 */
export function randomRecurrentModelSpec(o: RandomModelOptions): RecurrentModelSpec {
  const rnd = seededRandom(o.seed ?? 1);
  const scale = o.scale ?? 0.5;
  const rand = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rnd() * 2 - 1) * scale;
    return a;
  };
  const useBias = o.useBias ?? true;
  const activation = o.activation ?? 'tanh';
  const recurrentActivation = o.recurrentActivation ?? 'sigmoid';
  let embedding: EmbeddingSpec | null = null;
  if (o.vocabulary !== undefined) {
    embedding = {
      kind: 'embedding',
      inputDim: o.vocabulary,
      outputDim: o.inputDim,
      embeddings: rand(o.vocabulary * o.inputDim),
      maskZero: o.maskZero ?? false,
    };
  }
  const recurrent: RecurrentLayerSpec[] = [];
  let prev = o.inputDim;
  for (const H of o.units) {
    // LSTM has 4 gates, GRU 3; a GRU with reset_after has an input and a recurrent bias row.
    // Drawn in the same order for both cells: kernel, recurrent kernel, bias.
    const resetAfter = o.cell === 'gru' && (o.resetAfter ?? true);
    const gates = (o.cell === 'lstm' ? 4 : 3) * H;
    const weights = {
      inputDim: prev,
      units: H,
      kernel: rand(prev * gates),
      recurrentKernel: rand(H * gates),
      bias: useBias ? rand((resetAfter ? 2 : 1) * gates) : null,
      activation,
      recurrentActivation,
    };
    recurrent.push(
      o.cell === 'lstm' ? { kind: 'lstm', ...weights } : { kind: 'gru', ...weights, resetAfter },
    );
    prev = H;
  }
  const head: DenseLayerSpec[] = [];
  for (const d of o.head ?? []) {
    head.push({
      kind: 'dense',
      inputDim: prev,
      units: d.units,
      kernel: rand(prev * d.units),
      bias: (d.useBias ?? true) ? rand(d.units) : null,
      activation: d.activation,
    });
    prev = d.units;
  }
  return { embedding, recurrent, head };
}
