import { decodeWeights, parseModelJson, type LayersModelJson, type NamedWeight } from './model-json';
import { importKerasModel, UnsupportedModelError, type KerasTopology } from './keras-import';
import { importFromModelJson } from './artifact-store';

/** A deterministic float sequence so weights are distinguishable. */
function ramp(n: number, start: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => start + i / 1024);
}

function w(name: string, shape: number[], start = 0): NamedWeight {
  return {
    name,
    shape,
    values: ramp(
      shape.reduce((a, b) => a * b, 1),
      start,
    ),
  };
}

const layer = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

/** Keras 2 Sequential: Embedding(50, 4) → LSTM(3) → Dense(2, softmax). */
function textLayers(overrides: { lstm?: Record<string, unknown>; dense?: Record<string, unknown> } = {}) {
  return [
    layer('InputLayer', { name: 'input_1', batch_input_shape: [null, 7] }),
    layer('Embedding', { name: 'embedding', input_dim: 50, output_dim: 4, mask_zero: true }),
    layer('SpatialDropout1D', { name: 'sd', rate: 0.2 }),
    layer('LSTM', {
      name: 'lstm',
      units: 3,
      activation: 'tanh',
      recurrent_activation: 'sigmoid',
      use_bias: true,
      return_sequences: false,
      ...overrides.lstm,
    }),
    layer('Dropout', { name: 'dropout', rate: 0.5 }),
    layer('Dense', { name: 'dense', units: 2, activation: 'softmax', ...overrides.dense }),
  ];
}

const textWeights = () => [
  w('dense/kernel', [3, 2], 5),
  w('dense/bias', [2], 6),
  w('embedding/embeddings', [50, 4], 1),
  w('lstm/lstm_cell/kernel', [4, 12], 2),
  w('lstm/lstm_cell/recurrent_kernel', [3, 12], 3),
  w('lstm/lstm_cell/bias', [12], 4),
];

const seq = (layers: unknown[], kerasVersion = '2.15.0'): KerasTopology => ({
  className: 'Sequential',
  config: { name: 'sequential', layers },
  kerasVersion,
});

describe('importKerasModel', () => {
  it('maps a Keras 2 Sequential text model, matching weights by owning layer name whatever their order', () => {
    const m = importKerasModel(seq(textLayers()), textWeights());
    expect(m.spec.embedding).toMatchObject({ inputDim: 50, outputDim: 4, maskZero: true });
    expect(m.spec.embedding!.embeddings[0]).toBe(1);
    expect(m.spec.recurrent).toHaveLength(1);
    const l = m.spec.recurrent[0];
    expect(l).toMatchObject({
      kind: 'lstm',
      inputDim: 4,
      units: 3,
      activation: 'tanh',
      recurrentActivation: 'sigmoid',
    });
    expect([l.kernel[0], l.recurrentKernel[0], l.bias![0]]).toEqual([2, 3, 4]);
    expect(m.spec.head).toHaveLength(1);
    expect(m.spec.head[0]).toMatchObject({ inputDim: 3, units: 2, activation: 'softmax' });
    expect([m.spec.head[0].kernel[0], m.spec.head[0].bias![0]]).toEqual([5, 6]);
    expect(m.inputLength).toBe(7);
    expect(m.inputMaskValue).toBeNull();
  });

  it('matches by layer order and role when names do not name the layer (tfjs cell names)', () => {
    const weights = [
      w('embedding_Embedding1/embeddings', [50, 4], 1),
      w('lstm_LSTMCell1/kernel', [4, 12], 2),
      w('lstm_LSTMCell1/recurrent_kernel', [3, 12], 3),
      w('lstm_LSTMCell1/bias', [12], 4),
      w('dense_Dense1/kernel_1', [3, 2], 5), // tfjs de-duplicated name
      w('dense_Dense1/bias', [2], 6),
    ];
    const m = importKerasModel(seq(textLayers(), 'tfjs-layers 4.22.0'), weights);
    expect(m.spec.recurrent[0].kernel[0]).toBe(2);
    expect(m.spec.head[0].bias![0]).toBe(6);
    expect(m.spec.head[0].kernel[0]).toBe(5);
  });

  it('maps stacked LSTM → GRU (reset_after both ways), hard_sigmoid and bias-free layers', () => {
    const layers = [
      layer('InputLayer', { name: 'in', batch_input_shape: [null, null, 5] }),
      layer('Masking', { name: 'masking', mask_value: 0 }),
      layer('LSTM', {
        name: 'a',
        units: 3,
        return_sequences: true,
        recurrent_activation: 'hard_sigmoid',
        use_bias: false,
      }),
      layer('GRU', { name: 'b', units: 2, reset_after: true }),
      layer('Dense', { name: 'c', units: 4, activation: 'relu' }),
      layer('Dense', { name: 'd', units: 1, activation: 'linear', use_bias: false }),
    ];
    const weights = [
      w('a/lstm_cell/kernel', [5, 12]),
      w('a/lstm_cell/recurrent_kernel', [3, 12]),
      w('b/gru_cell/kernel', [3, 6]),
      w('b/gru_cell/recurrent_kernel', [2, 6]),
      w('b/gru_cell/bias', [2, 6]),
      w('c/kernel', [2, 4]),
      w('c/bias', [4]),
      w('d/kernel', [4, 1]),
    ];
    const m = importKerasModel(seq(layers), weights);
    expect(m.inputMaskValue).toBe(0);
    expect(m.spec.embedding).toBeNull();
    expect(
      m.spec.recurrent.map((r) => [r.kind, r.inputDim, r.units, r.recurrentActivation, r.bias === null]),
    ).toEqual([
      ['lstm', 5, 3, 'hard_sigmoid', true],
      ['gru', 3, 2, 'sigmoid', false],
    ]);
    expect(m.spec.recurrent[1]).toMatchObject({ resetAfter: true });
    expect(m.spec.head.map((h) => [h.units, h.activation, h.bias === null])).toEqual([
      [4, 'relu', false],
      [1, 'linear', true],
    ]);
    const v1 = importKerasModel(
      seq(
        layers.map((l) =>
          l.config.name === 'b' ? layer('GRU', { name: 'b', units: 2, reset_after: false }) : l,
        ),
      ),
      weights.map((x) => (x.name === 'b/gru_cell/bias' ? w('b/gru_cell/bias', [6]) : x)),
    );
    expect(v1.spec.recurrent[1]).toMatchObject({ resetAfter: false });
  });

  it('folds a standalone Activation into the preceding linear Dense', () => {
    const layers = textLayers({ dense: { activation: 'linear' } });
    layers.push(layer('Activation', { name: 'act', activation: 'softmax' }));
    expect(importKerasModel(seq(layers), textWeights()).spec.head[0].activation).toBe('softmax');
  });

  it('maps a linear Functional model (Keras 2 and Keras 3 inbound node formats)', () => {
    const k2 = {
      name: 'model',
      layers: [
        {
          name: 'tokens',
          class_name: 'InputLayer',
          config: { name: 'tokens', batch_input_shape: [null, 7] },
          inbound_nodes: [],
        },
        { name: 'embedding', ...textLayers()[1], inbound_nodes: [[['tokens', 0, 0, {}]]] },
        { name: 'lstm', ...textLayers()[3], inbound_nodes: [[['embedding', 0, 0, {}]]] },
        { name: 'dense', ...textLayers()[5], inbound_nodes: [[['lstm', 0, 0, {}]]] },
      ],
      input_layers: [['tokens', 0, 0]],
      output_layers: [['dense', 0, 0]],
    };
    const m = importKerasModel(
      { className: 'Functional', config: k2, kerasVersion: '2.15.0' },
      textWeights(),
    );
    expect(m.spec.recurrent[0].units).toBe(3);
    const kt = (from: string) => ({
      class_name: '__keras_tensor__',
      config: { shape: [null, 7], keras_history: [from, 0, 0] },
    });
    const k3 = {
      ...k2,
      layers: k2.layers.map((l, i) =>
        i === 0
          ? { ...l, config: { name: 'tokens', batch_shape: [null, 7] } }
          : { ...l, inbound_nodes: [{ args: [kt(k2.layers[i - 1].name)], kwargs: {} }] },
      ),
      input_layers: ['tokens', 0, 0],
      output_layers: ['dense', 0, 0],
    };
    const m3 = importKerasModel(
      { className: 'Functional', config: k3, kerasVersion: '3.4.1' },
      textWeights(),
    );
    expect(m3.spec.head[0].units).toBe(2);
    expect(m3.inputLength).toBe(7);
  });

  describe('refuses what the engine cannot reproduce, naming layer and option', () => {
    const refuse = (layers: unknown[], weights = textWeights(), kerasVersion = '2.15.0') =>
      expect(() => importKerasModel(seq(layers, kerasVersion), weights));

    it('unsupported layer classes', () => {
      const l = textLayers();
      l.splice(3, 0, layer('Conv1D', { name: 'conv1d', filters: 4 }));
      refuse(l).toThrow(/layer "conv1d" \(Conv1D\): layer class Conv1D is not supported/);
      const b = textLayers();
      b[3] = layer('Bidirectional', { name: 'bidirectional', layer: {} });
      refuse(b).toThrow(/"bidirectional" \(Bidirectional\)/);
      refuse(b).toThrow(UnsupportedModelError);
    });
    it('LSTM options that change the result', () => {
      refuse(textLayers({ lstm: { go_backwards: true } })).toThrow(
        /"lstm" \(LSTM\): option go_backwards=true/,
      );
      refuse(textLayers({ lstm: { return_state: true } })).toThrow(/return_state/);
      refuse(textLayers({ lstm: { return_sequences: true } })).toThrow(
        /"lstm" \(LSTM\): return_sequences=true on the last recurrent layer/,
      );
      refuse(textLayers({ lstm: { activation: 'swish' } })).toThrow(/"lstm" \(LSTM\): activation=swish/);
      refuse(textLayers({ lstm: { recurrent_activation: 'softmax' } })).toThrow(
        /recurrent_activation=softmax/,
      );
      refuse(textLayers({ lstm: { recurrent_activation: 'hard_sigmoid' } }), textWeights(), '3.4.1').toThrow(
        /recurrent_activation=hard_sigmoid of Keras 3/,
      );
    });
    it('set options with no engine equivalent (Keras 3 quantizer, LoRA); absent or null is fine', () => {
      const q = textLayers();
      q[1] = layer('Embedding', { ...q[1].config, embeddings_quantizer: 'int8' });
      refuse(q).toThrow(/"embedding" \(Embedding\): option embeddings_quantizer is not supported/);
      refuse(textLayers({ dense: { lora_rank: 4 } })).toThrow(
        /"dense" \(Dense\): option lora_rank is not supported/,
      );
      const nulls = textLayers({ dense: { lora_rank: null } });
      nulls[1] = layer('Embedding', { ...nulls[1].config, embeddings_quantizer: null });
      expect(importKerasModel(seq(nulls), textWeights()).spec.head[0].units).toBe(2);
    });
    it('unmappable Dense activation and misplaced layers', () => {
      refuse(textLayers({ dense: { activation: 'gelu' } })).toThrow(/"dense" \(Dense\): activation=gelu/);
      const l = textLayers();
      l.splice(2, 0, layer('Dense', { name: 'pre', units: 4 }));
      refuse(l).toThrow(/"pre" \(Dense\): Dense before the recurrent layers/);
      const m = textLayers();
      m.splice(2, 0, layer('Masking', { name: 'mask', mask_value: 0 }));
      refuse(m).toThrow(/"mask" \(Masking\)/);
    });
    it('weights with the wrong shape, missing or left over', () => {
      const bad = textWeights().map((x) => (x.name === 'lstm/lstm_cell/kernel' ? w(x.name, [4, 8]) : x));
      refuse(textLayers(), bad).toThrow(
        /lstm\/lstm_cell\/kernel" of layer "lstm" \(LSTM\): shape \[4, 8\], expected \[4, 12\]/,
      );
      refuse(
        textLayers(),
        textWeights().filter((x) => x.name !== 'dense/bias'),
      ).toThrow(/"dense" \(Dense\): weight "bias" is missing/);
      refuse(textLayers(), [...textWeights(), w('extra/gamma', [3])]).toThrow(
        /"extra\/gamma" does not belong/,
      );
      refuse(textLayers({ dense: { use_bias: false } })).toThrow(/"dense" \(Dense\) has no weight "bias"/);
    });
    it('non-linear Functional graphs', () => {
      const cfg = {
        layers: [
          { name: 'x', class_name: 'InputLayer', config: { name: 'x' }, inbound_nodes: [] },
          { name: 'lstm', ...textLayers()[3], inbound_nodes: [[['x', 0, 0, {}]]] },
          {
            name: 'side',
            class_name: 'Dense',
            config: { name: 'side', units: 1 },
            inbound_nodes: [[['x', 0, 0, {}]]],
          },
          { name: 'dense', ...textLayers()[5], inbound_nodes: [[['lstm', 0, 0, {}]]] },
        ],
        input_layers: [['x', 0, 0]],
        output_layers: [['dense', 0, 0]],
      };
      expect(() =>
        importKerasModel({ className: 'Functional', config: cfg, kerasVersion: '2.15.0' }, []),
      ).toThrow(/"side": not on the input → output path/);
    });
  });
});

describe('decodeWeights', () => {
  const manifestJson = (weights: unknown[], paths = ['w.bin']): LayersModelJson =>
    parseModelJson({
      format: 'layers-model',
      modelTopology: { class_name: 'Sequential', config: {} },
      weightsManifest: [{ paths, weights }],
    });

  it('reads float32 across shards and dequantizes uint8 / uint16 / float16', () => {
    const f32 = Buffer.from(Float32Array.of(1.5, -2, 3.25).buffer);
    const u8 = Buffer.from([0, 10, 255]);
    const u16 = Buffer.alloc(4);
    u16.writeUInt16LE(1000, 0);
    u16.writeUInt16LE(3, 2);
    const f16 = Buffer.alloc(4);
    f16.writeUInt16LE(0x3c00, 0); // 1.0
    f16.writeUInt16LE(0xc100, 2); // -2.5
    const all = Buffer.concat([f32, u8, u16, f16]);
    const mj = manifestJson(
      [
        { name: 'a', shape: [3], dtype: 'float32' },
        { name: 'b', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
        { name: 'c', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.001, min: 0 } },
        { name: 'd', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
      ],
      ['s1.bin', 's2.bin'],
    );
    const files: Record<string, Buffer> = { 's1.bin': all.subarray(0, 5), 's2.bin': all.subarray(5) };
    const out = decodeWeights(mj, (p) => files[p]);
    expect(Array.from(out[0].values)).toEqual([1.5, -2, 3.25]);
    expect(Array.from(out[1].values)).toEqual([-1, 4, 126.5]);
    expect(out[2].values[0]).toBeCloseTo(1, 6);
    expect(out[2].values[1]).toBeCloseTo(0.003, 6);
    expect(Array.from(out[3].values)).toEqual([1, -2.5]);
  });

  it('refuses other dtypes and size mismatches with a clear error', () => {
    expect(() =>
      decodeWeights(manifestJson([{ name: 'i', shape: [1], dtype: 'int32' }]), () => Buffer.alloc(4)),
    ).toThrow(/i: dtype int32 is not supported/);
    expect(() =>
      decodeWeights(manifestJson([{ name: 'a', shape: [2], dtype: 'float32' }]), () => Buffer.alloc(4)),
    ).toThrow(/a needs 8 bytes/);
    expect(() =>
      decodeWeights(manifestJson([{ name: 'a', shape: [1], dtype: 'float32' }]), () => Buffer.alloc(8)),
    ).toThrow(/has 8 bytes, the manifest describes 4/);
    expect(() => parseModelJson({ format: 'graph-model', modelTopology: {}, weightsManifest: [] })).toThrow(
      /graph-model/,
    );
    expect(() => manifestJson([], ['../etc/passwd'])).toThrow(/safe relative path/);
  });

  it('imports a whole Keras 2 converter-style model.json (model_config nesting)', () => {
    const weights = textWeights();
    const modelJson = parseModelJson({
      format: 'layers-model',
      generatedBy: 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: { class_name: 'Sequential', config: { name: 's', layers: textLayers() } },
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: weights.map((x) => ({ name: x.name, shape: x.shape, dtype: 'float32' })),
        },
      ],
    });
    const bin = Buffer.concat(weights.map((x) => Buffer.from(x.values.buffer)));
    const m = importFromModelJson(modelJson, () => bin);
    expect(m.spec.embedding!.embeddings).toEqual(weights[2].values);
    expect(m.spec.recurrent[0].recurrentKernel).toEqual(weights[4].values);
  });
});
