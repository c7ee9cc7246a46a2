import { ActivationCode } from './activation';
import type { RecurrentModelSpec } from './model-spec';
import { randomRecurrentModelSpec, seededRandom } from './random-spec';
import { RecurrentModel } from './recurrent-model';
import type { KernelKind } from './stepper';
import { loadWasmKernel, locateWasmKernel, wasmActivateForTest } from './wasm-stepper';

const wasmAvailable = loadWasmKernel().module !== null;
const kernels: KernelKind[] = ['ts', 'wasm'];

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

const specs: [string, RecurrentModelSpec][] = [
  [
    'lstm 2 layers H=13+8',
    randomRecurrentModelSpec({
      cell: 'lstm',
      inputDim: 5,
      units: [13, 8],
      head: [{ units: 3, activation: 'softmax' }],
      seed: 1,
    }),
  ],
  [
    'gru reset_after=true H=10',
    randomRecurrentModelSpec({ cell: 'gru', resetAfter: true, inputDim: 3, units: [10], seed: 2 }),
  ],
  [
    'gru reset_after=false 2 layers H=7+12',
    randomRecurrentModelSpec({ cell: 'gru', resetAfter: false, inputDim: 4, units: [7, 12], seed: 3 }),
  ],
  [
    'lstm H=64 D=8',
    randomRecurrentModelSpec({
      cell: 'lstm',
      inputDim: 8,
      units: [64],
      head: [{ units: 1, activation: 'linear' }],
      seed: 4,
    }),
  ],
];

describe('WASM kernel availability', () => {
  it('is built (npm run build:wasm) and validates here', () => {
    expect(locateWasmKernel()).toMatch(/libs[\\/]lstm[\\/]wasm[\\/]build[\\/]kernel\.wasm$/);
    expect(wasmAvailable).toBe(true);
    expect(new RecurrentModel(specs[0][1], { kernel: 'auto' }).kernel).toBe('wasm');
  });

  it('forcing wasm with a missing file throws; auto falls back to ts', () => {
    expect(
      () => new RecurrentModel(specs[0][1], { kernel: 'wasm', wasmPath: '/nonexistent/kernel.wasm' }),
    ).toThrow(/unavailable/);
    expect(
      new RecurrentModel(specs[0][1], { kernel: 'auto', wasmPath: '/nonexistent/kernel.wasm' }).kernel,
    ).toBe('ts');
  });
});

describe.each(kernels)('%s kernel: a key never depends on its batch', (kernel) => {
  const T = 40;
  const lengths = [40, 3, 17, 0, 40, 25, 1, 39, 12];
  const B = lengths.length;

  it.each(specs)('%s: masked batch of different lengths equals per-key runs bit for bit', (_name, spec) => {
    const model = new RecurrentModel(spec, { kernel, initialBatch: 2 });
    const D = model.inputDim;
    const rnd = seededRandom(99);
    const xs = Array.from({ length: B }, () => Float32Array.from({ length: T * D }, () => rnd() * 4 - 2));
    // Batched, time-major, keys with fewer events masked out once they run out.
    const state = model.createState(B);
    const x = new Float32Array(B * D);
    const mask = new Uint8Array(B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        mask[b] = t < lengths[b] ? 1 : 0;
        x.set(xs[b].subarray(t * D, (t + 1) * D), b * D);
      }
      model.step(B, x, state, mask);
    }
    const out = new Float32Array(B * model.outputDim);
    model.head(B, state, out);
    // Each key alone (batch 1), and inside a batch of a different size at another position.
    for (let b = 0; b < B; b++) {
      const solo = model.createState(1);
      for (let t = 0; t < lengths[b]; t++) model.step(1, xs[b].subarray(t * D, (t + 1) * D), solo);
      const S = model.stateSize;
      expect(bitsEqual(solo, state.subarray(b * S, (b + 1) * S))).toBe(true);
      const o1 = new Float32Array(model.outputDim);
      model.head(1, solo, o1);
      expect(bitsEqual(o1, out.subarray(b * model.outputDim, (b + 1) * model.outputDim))).toBe(true);
    }
  });

  it.each(specs)(
    '%s: same key at any position in batches of size 1..300 gives identical bits',
    (_name, spec) => {
      const model = new RecurrentModel(spec, { kernel });
      const D = model.inputDim;
      const S = model.stateSize;
      const rnd = seededRandom(5);
      const steps = 12;
      const key = Float32Array.from({ length: steps * D }, () => rnd() * 2 - 1);
      const results: Float32Array[] = [];
      for (const batch of [1, 2, 3, 4, 5, 7, 8, 33, 300]) {
        const pos = (batch * 7) % batch;
        const state = model.createState(batch);
        for (let i = 0; i < state.length; i++) state[i] = rnd() - 0.5; // other keys carry arbitrary state
        state.fill(0, pos * S, (pos + 1) * S);
        const x = new Float32Array(batch * D);
        for (let t = 0; t < steps; t++) {
          for (let i = 0; i < x.length; i++) x[i] = rnd() * 2 - 1;
          x.set(key.subarray(t * D, (t + 1) * D), pos * D);
          model.step(batch, x, state);
        }
        results.push(state.slice(pos * S, (pos + 1) * S));
      }
      for (const r of results) expect(bitsEqual(r, results[0])).toBe(true);
    },
  );

  it('stepTokens with maskZero: token 0 leaves the state unchanged; mask 0 too', () => {
    const spec = randomRecurrentModelSpec({
      cell: 'lstm',
      inputDim: 6,
      units: [9],
      vocabulary: 20,
      maskZero: true,
      seed: 8,
    });
    const model = new RecurrentModel(spec, { kernel });
    const state = model.createState(3);
    model.stepTokens(3, Int32Array.from([1, 2, 3]), state);
    const before = state.slice();
    model.stepTokens(3, Int32Array.from([0, 5, 6]), state, Uint8Array.from([1, 1, 0]));
    const S = model.stateSize;
    expect(bitsEqual(state.subarray(0, S), before.subarray(0, S))).toBe(true);
    expect(bitsEqual(state.subarray(S, 2 * S), before.subarray(S, 2 * S))).toBe(false);
    expect(bitsEqual(state.subarray(2 * S), before.subarray(2 * S))).toBe(true);
    expect(() => model.stepTokens(1, Int32Array.from([20]), state)).toThrow(RangeError);
  });
});

describe('TS and WASM kernels agree', () => {
  it.each(specs)('%s: within 1e-5 after 150 steps', (_name, spec) => {
    const ts = new RecurrentModel(spec, { kernel: 'ts' });
    const wasm = new RecurrentModel(spec, { kernel: 'wasm' });
    const B = 37;
    const D = ts.inputDim;
    const a = ts.createState(B);
    const b = wasm.createState(B);
    const rnd = seededRandom(17);
    const x = new Float32Array(B * D);
    const mask = new Uint8Array(B);
    let err = 0;
    for (let t = 0; t < 150; t++) {
      for (let i = 0; i < x.length; i++) x[i] = rnd() * 6 - 3;
      for (let i = 0; i < B; i++) mask[i] = rnd() < 0.8 ? 1 : 0;
      ts.step(B, x, a, mask);
      wasm.step(B, x, b, mask);
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
    }
    expect(err).toBeLessThanOrEqual(1e-5);
    const oa = new Float32Array(B * ts.outputDim);
    const ob = new Float32Array(B * ts.outputDim);
    ts.head(B, a, oa);
    wasm.head(B, b, ob);
    for (let i = 0; i < oa.length; i++) expect(Math.abs(oa[i] - ob[i])).toBeLessThanOrEqual(1e-5);
  });

  it('WASM sigmoid and tanh are float32-accurate over the whole range', () => {
    const n = 40000;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = -100 + (200 * i) / n;
    xs.set([0, -0, 1e-8, -1e-8, 88.5, -88.5, 1e4, -1e4], 0);
    for (const [code, f] of [
      [ActivationCode.Sigmoid, (v: number) => 1 / (1 + Math.exp(-v))],
      [ActivationCode.Tanh, Math.tanh],
    ] as const) {
      const ys = xs.slice();
      expect(wasmActivateForTest(ys, code)).toBe(true);
      let err = 0;
      for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(ys[i] - f(xs[i])));
      expect(err).toBeLessThan(4e-7);
    }
  });
});

describe('RecurrentModel validation', () => {
  it('refuses inconsistent specs with a message naming the field', () => {
    const spec = randomRecurrentModelSpec({ cell: 'lstm', inputDim: 3, units: [4, 5], seed: 1 });
    const bad = { ...spec, recurrent: [spec.recurrent[0], { ...spec.recurrent[1], inputDim: 7 }] };
    expect(() => new RecurrentModel(bad, { kernel: 'ts' })).toThrow(/recurrent\[1\].*inputDim/);
    const soft = { ...spec, recurrent: [{ ...spec.recurrent[0], activation: 'softmax' as const }] };
    expect(() => new RecurrentModel(soft, { kernel: 'ts' })).toThrow(/softmax/);
  });

  it('documents the state layout: [h, c] per LSTM layer, [h] per GRU layer', () => {
    const lstm = new RecurrentModel(randomRecurrentModelSpec({ cell: 'lstm', inputDim: 2, units: [3, 4] }), {
      kernel: 'ts',
    });
    expect(lstm.stateSize).toBe(2 * 3 + 2 * 4);
    expect(lstm.layout.map((l) => [l.hOffset, l.cOffset])).toEqual([
      [0, 3],
      [6, 10],
    ]);
    const gru = new RecurrentModel(randomRecurrentModelSpec({ cell: 'gru', inputDim: 2, units: [3, 4] }), {
      kernel: 'ts',
    });
    expect(gru.stateSize).toBe(7);
    expect(gru.layout.map((l) => [l.hOffset, l.cOffset])).toEqual([
      [0, -1],
      [3, -1],
    ]);
    expect(gru.outputStateOffset).toBe(3);
  });
});
