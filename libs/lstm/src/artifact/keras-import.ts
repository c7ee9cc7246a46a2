import type {
  Activation,
  DenseLayerSpec,
  EmbeddingSpec,
  RecurrentLayerSpec,
  RecurrentModelSpec,
} from '../engine/model-spec';
import { isRecord, type NamedWeight } from './model-json';

/** A Keras/tfjs model topology: the `{class_name, config}` pair plus the writer's Keras version. */
export interface KerasTopology {
  readonly className: string;
  readonly config: unknown;
  /** e.g. "2.15.0", "3.4.1", "tfjs-layers 4.22.0"; null when unknown. */
  readonly kerasVersion: string | null;
}

/** Result of importing a Keras/tfjs model into the engine's contract. */
export interface ImportedModel {
  readonly spec: RecurrentModelSpec;
  /**
   * Keras `Masking(mask_value)` in front of the recurrent layers: a step whose features all equal
   * this value must be skipped (state carried over), as Keras does. null without Masking.
   */
  readonly inputMaskValue: number | null;
  /** Sequence length the model was built for (from its input shape), when it declares one. */
  readonly inputLength: number | null;
}

/** Raised when a model uses a layer or option the engine cannot reproduce exactly. */
export class UnsupportedModelError extends Error {
  override readonly name = 'UnsupportedModelError';
}

interface RawLayer {
  readonly className: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
}

const NO_OP_LAYERS = new Set([
  'InputLayer',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'ActivityRegularization',
]);

type Role = 'embeddings' | 'kernel' | 'recurrent_kernel' | 'bias';

interface Slot {
  readonly layer: number;
  readonly role: Role;
  /** Expected shape; null entries are dimensions not known from the config. */
  readonly shape: (number | null)[];
  weight?: NamedWeight;
}

type PlannedLayer =
  | { kind: 'embedding'; raw: RawLayer; inputDim: number; outputDim: number; maskZero: boolean }
  | {
      kind: 'lstm' | 'gru';
      raw: RawLayer;
      units: number;
      inputDim: number | null;
      useBias: boolean;
      resetAfter: boolean | null;
      activation: Activation;
      recurrentActivation: Activation;
    }
  | { kind: 'dense'; raw: RawLayer; units: number; useBias: boolean; activation: Activation };

/**
 * Maps a Keras/tfjs Sequential (or linear Functional) model onto a {@link RecurrentModelSpec}.
 * Weights are matched by owning layer name where the name says it, else by layer order and role
 * (`kernel`, `recurrent_kernel`, `bias`, `embeddings`), and every shape is verified.
 *
 * @throws UnsupportedModelError naming the layer and option the engine cannot reproduce.
 */
export function importKerasModel(topology: KerasTopology, weights: readonly NamedWeight[]): ImportedModel {
  const keras3 = topology.kerasVersion !== null && /^3\./.test(topology.kerasVersion);
  const raw = linearLayers(topology);
  const lastRecurrent = raw.reduce(
    (last, l, i) => (l.className === 'LSTM' || l.className === 'GRU' ? i : last),
    -1,
  );
  if (lastRecurrent < 0) throw new UnsupportedModelError('model has no LSTM or GRU layer');

  const planned: PlannedLayer[] = [];
  let inputMaskValue: number | null = null;
  let inputLength: number | null = null;
  let inputDim: number | null = null;
  let seenRecurrent = false;
  for (const [i, l] of raw.entries()) {
    const c = l.config;
    const at = `layer "${l.name}" (${l.className})`;
    const shape = declaredInputShape(c);
    if (shape && inputLength === null && planned.length === 0) {
      inputLength = typeof shape[1] === 'number' ? shape[1] : null;
      if (shape.length >= 3 && typeof shape[shape.length - 1] === 'number')
        inputDim = shape[shape.length - 1] as number;
    }
    if (NO_OP_LAYERS.has(l.className)) continue;
    switch (l.className) {
      case 'Masking': {
        if (planned.length > 0) {
          throw new UnsupportedModelError(
            `${at}: Masking is supported only on the raw input in front of the recurrent layers (use Embedding mask_zero for tokens)`,
          );
        }
        const v = c.mask_value ?? 0;
        if (typeof v !== 'number') throw new UnsupportedModelError(`${at}: mask_value must be a number`);
        inputMaskValue = v;
        break;
      }
      case 'Embedding': {
        if (planned.length > 0 || inputMaskValue !== null) {
          throw new UnsupportedModelError(`${at}: Embedding must be the first layer of the model`);
        }
        rejectOption(c, 'embeddings_quantizer', at);
        planned.push({
          kind: 'embedding',
          raw: l,
          inputDim: positiveInt(c.input_dim, at, 'input_dim'),
          outputDim: positiveInt(c.output_dim, at, 'output_dim'),
          maskZero: c.mask_zero === true,
        });
        break;
      }
      case 'LSTM':
      case 'GRU': {
        if (planned.some((p) => p.kind === 'dense')) {
          throw new UnsupportedModelError(`${at}: a recurrent layer after a Dense layer is not supported`);
        }
        for (const opt of ['go_backwards', 'return_state', 'time_major'] as const) {
          if (c[opt] === true) throw new UnsupportedModelError(`${at}: option ${opt}=true is not supported`);
        }
        const rs = c.return_sequences === true;
        if (i === lastRecurrent && rs) {
          throw new UnsupportedModelError(
            `${at}: return_sequences=true on the last recurrent layer is not supported (the head reads the final state)`,
          );
        }
        if (i !== lastRecurrent && !rs) {
          throw new UnsupportedModelError(
            `${at}: return_sequences=false on a recurrent layer followed by another one is not supported`,
          );
        }
        const prev = planned[planned.length - 1];
        const prevDim =
          prev === undefined
            ? inputDim
            : prev.kind === 'embedding'
              ? prev.outputDim
              : prev.kind === 'dense'
                ? prev.units
                : prev.units;
        planned.push({
          kind: l.className === 'LSTM' ? 'lstm' : 'gru',
          raw: l,
          units: positiveInt(c.units, at, 'units'),
          inputDim: prevDim,
          useBias: c.use_bias !== false,
          resetAfter:
            l.className === 'GRU' ? (typeof c.reset_after === 'boolean' ? c.reset_after : null) : false,
          activation: activationOf(c.activation ?? 'tanh', at, 'activation', keras3, false),
          recurrentActivation: activationOf(
            c.recurrent_activation ?? 'sigmoid',
            at,
            'recurrent_activation',
            keras3,
            false,
          ),
        });
        seenRecurrent = true;
        break;
      }
      case 'Dense': {
        if (!seenRecurrent) {
          throw new UnsupportedModelError(
            `${at}: Dense before the recurrent layers (per-timestep Dense) is not supported`,
          );
        }
        rejectOption(c, 'lora_rank', at);
        planned.push({
          kind: 'dense',
          raw: l,
          units: positiveInt(c.units, at, 'units'),
          useBias: c.use_bias !== false,
          activation: activationOf(c.activation ?? 'linear', at, 'activation', keras3, true),
        });
        break;
      }
      case 'Activation': {
        // A standalone Activation folds into a preceding linear Dense.
        const prev = planned[planned.length - 1];
        if (prev === undefined || prev.kind !== 'dense' || prev.activation !== 'linear') {
          throw new UnsupportedModelError(
            `${at}: a standalone Activation is supported only right after a linear Dense layer`,
          );
        }
        prev.activation = activationOf(c.activation, at, 'activation', keras3, true);
        break;
      }
      case 'Flatten': {
        if (!seenRecurrent)
          throw new UnsupportedModelError(`${at}: Flatten before the recurrent layers is not supported`);
        break; // the final state is already a vector
      }
      default:
        throw new UnsupportedModelError(`${at}: layer class ${l.className} is not supported`);
    }
  }

  const slots = planSlots(planned);
  assignWeights(slots, planned, weights);

  let embedding: EmbeddingSpec | null = null;
  const recurrent: RecurrentLayerSpec[] = [];
  const head: DenseLayerSpec[] = [];
  let width: number | null = null;
  for (const [li, p] of planned.entries()) {
    const w = (role: Role) => slots.find((s) => s.layer === li && s.role === role)?.weight ?? null;
    const at = `layer "${p.raw.name}" (${p.raw.className})`;
    switch (p.kind) {
      case 'embedding': {
        embedding = {
          kind: 'embedding',
          inputDim: p.inputDim,
          outputDim: p.outputDim,
          embeddings: w('embeddings')!.values,
          maskZero: p.maskZero,
        };
        width = p.outputDim;
        break;
      }
      case 'lstm':
      case 'gru': {
        const kernel = w('kernel')!;
        const d = kernel.shape[0];
        if (width !== null && d !== width) {
          throw new UnsupportedModelError(
            `${at}: kernel expects ${d} input features but the previous layer gives ${width}`,
          );
        }
        const bias = p.useBias ? w('bias')! : null;
        const weights = {
          inputDim: d,
          units: p.units,
          kernel: kernel.values,
          recurrentKernel: w('recurrent_kernel')!.values,
          bias: bias ? bias.values : null,
          activation: p.activation,
          recurrentActivation: p.recurrentActivation,
        };
        recurrent.push(
          p.kind === 'lstm'
            ? { kind: 'lstm', ...weights }
            : {
                kind: 'gru',
                ...weights,
                resetAfter: p.resetAfter ?? (bias ? bias.shape.length === 2 : !isTfjs(topology)),
              },
        );
        width = p.units;
        break;
      }
      case 'dense': {
        const kernel = w('kernel')!;
        if (kernel.shape[0] !== width) {
          throw new UnsupportedModelError(
            `${at}: kernel expects ${kernel.shape[0]} inputs but the previous layer gives ${width}`,
          );
        }
        head.push({
          kind: 'dense',
          inputDim: kernel.shape[0],
          units: p.units,
          kernel: kernel.values,
          bias: p.useBias ? w('bias')!.values : null,
          activation: p.activation,
        });
        width = p.units;
        break;
      }
    }
  }
  return { spec: { embedding, recurrent, head }, inputMaskValue, inputLength };
}

function isTfjs(t: KerasTopology): boolean {
  return t.kerasVersion !== null && t.kerasVersion.startsWith('tfjs');
}

function planSlots(planned: readonly PlannedLayer[]): Slot[] {
  const slots: Slot[] = [];
  let width: number | null = null;
  for (const [li, p] of planned.entries()) {
    switch (p.kind) {
      case 'embedding':
        slots.push({ layer: li, role: 'embeddings', shape: [p.inputDim, p.outputDim] });
        width = p.outputDim;
        break;
      case 'lstm':
      case 'gru': {
        const g = (p.kind === 'lstm' ? 4 : 3) * p.units;
        slots.push({ layer: li, role: 'kernel', shape: [width ?? p.inputDim, g] });
        slots.push({ layer: li, role: 'recurrent_kernel', shape: [p.units, g] });
        if (p.useBias) {
          const biasShape =
            p.kind === 'lstm' || p.resetAfter === false ? [g] : p.resetAfter === true ? [2, g] : [null, g];
          slots.push({ layer: li, role: 'bias', shape: biasShape });
        }
        width = p.units;
        break;
      }
      case 'dense':
        slots.push({ layer: li, role: 'kernel', shape: [width, p.units] });
        if (p.useBias) slots.push({ layer: li, role: 'bias', shape: [p.units] });
        width = p.units;
        break;
    }
  }
  return slots;
}

/**
 * Owner path and role of a weight name: Keras 2 `lstm/lstm_cell/kernel:0`, tfjs
 * `lstm_LSTM1/kernel`, or Keras 3 checkpoints `layers/lstm/cell/vars/0` (role by position,
 * returned as `#0`).
 */
function roleOf(name: string): { owners: string[]; role: string } {
  const segments = name.replace(/:\d+$/, '').split('/');
  const last = segments[segments.length - 1];
  if (/^\d+$/.test(last) && segments[segments.length - 2] === 'vars') {
    return { owners: segments.slice(0, -2), role: `#${last}` };
  }
  // tfjs de-duplicates variable names with a numeric suffix (`kernel_1`).
  return {
    owners: segments.slice(0, -1),
    role: last.replace(/^(kernel|recurrent_kernel|bias|embeddings)_\d+$/, '$1'),
  };
}

function shapeFits(expected: readonly (number | null)[], actual: readonly number[]): boolean {
  if (expected[0] === null && expected.length === 2 && actual.length === 1) {
    return actual[0] === expected[1]; // GRU bias whose reset_after is not declared: 1-D form
  }
  return expected.length === actual.length && expected.every((d, i) => d === null || d === actual[i]);
}

function fmtShape(s: readonly (number | null)[]): string {
  return '[' + s.map((d) => (d === null ? '?' : String(d))).join(', ') + ']';
}

/** Name-based assignment first, then layer order + role for names that do not say their layer. */
function assignWeights(
  slots: Slot[],
  planned: readonly PlannedLayer[],
  weights: readonly NamedWeight[],
): void {
  const layerByName = new Map<string, number>();
  planned.forEach((p, i) => layerByName.set(p.raw.name, i));
  const pending: NamedWeight[] = [];
  for (const w of weights) {
    const { owners, role } = roleOf(w.name);
    let layer: number | undefined;
    for (const o of owners) if (layerByName.has(o)) layer = layerByName.get(o); // deepest match wins
    if (layer === undefined) {
      pending.push(w);
      continue;
    }
    const p = planned[layer];
    const layerSlots = slots.filter((s) => s.layer === layer);
    // Keras 3 numbers a layer's variables in creation order, which is the slot order.
    const slot = role.startsWith('#')
      ? layerSlots[Number(role.slice(1))]
      : layerSlots.find((s) => s.role === role);
    if (!slot) {
      throw new UnsupportedModelError(
        `weight "${w.name}": layer "${p.raw.name}" (${p.raw.className}) has no weight "${role}" in this configuration`,
      );
    }
    if (slot.weight)
      throw new UnsupportedModelError(`weight "${w.name}": layer "${p.raw.name}" already has a ${role}`);
    if (!shapeFits(slot.shape, w.shape)) {
      throw new UnsupportedModelError(
        `weight "${w.name}" of layer "${p.raw.name}" (${p.raw.className}): shape [${w.shape.join(', ')}], expected ${fmtShape(slot.shape)}`,
      );
    }
    slot.weight = w;
  }
  for (const w of pending) {
    const { role } = roleOf(w.name);
    const slot = slots.find((s) => !s.weight && s.role === role);
    if (!slot) throw new UnsupportedModelError(`weight "${w.name}" does not belong to any supported layer`);
    const p = planned[slot.layer];
    if (!shapeFits(slot.shape, w.shape)) {
      throw new UnsupportedModelError(
        `weight "${w.name}" (matched by order to layer "${p.raw.name}" (${p.raw.className}) ${role}): shape [${w.shape.join(', ')}], expected ${fmtShape(slot.shape)}`,
      );
    }
    slot.weight = w;
  }
  for (const s of slots) {
    if (!s.weight) {
      const p = planned[s.layer];
      throw new UnsupportedModelError(
        `layer "${p.raw.name}" (${p.raw.className}): weight "${s.role}" is missing from the weights manifest`,
      );
    }
  }
}

function declaredInputShape(c: Record<string, unknown>): unknown[] | null {
  for (const k of ['batch_input_shape', 'batch_shape']) if (Array.isArray(c[k])) return c[k] as unknown[];
  return null;
}

/** Throws when the layer config sets `option` (anything but absent or null): the import has no support for it. */
function rejectOption(c: Record<string, unknown>, option: string, at: string): void {
  if (c[option] !== undefined && c[option] !== null) {
    throw new UnsupportedModelError(`${at}: option ${option} is not supported`);
  }
}

function positiveInt(v: unknown, at: string, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new UnsupportedModelError(`${at}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function activationOf(
  v: unknown,
  at: string,
  field: string,
  keras3: boolean,
  allowSoftmax: boolean,
): Activation {
  let name: unknown = v;
  if (isRecord(v))
    name = typeof v.config === 'string' ? v.config : isRecord(v.config) ? v.config.name : v.class_name;
  if (name === null || name === undefined) name = 'linear';
  if (typeof name !== 'string')
    throw new UnsupportedModelError(`${at}: ${field} ${JSON.stringify(v)} is not supported`);
  const n = name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  switch (n) {
    case 'tanh':
    case 'sigmoid':
    case 'relu':
    case 'linear':
      return n;
    case 'hard_sigmoid':
      // Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6; the engine implements Keras 2/tfjs' 0.2x + 0.5.
      if (keras3) throw new UnsupportedModelError(`${at}: ${field}=hard_sigmoid of Keras 3 is not supported`);
      return 'hard_sigmoid';
    case 'softmax':
      if (allowSoftmax) return 'softmax';
      break;
    default:
      break;
  }
  throw new UnsupportedModelError(`${at}: ${field}=${name} is not supported`);
}

/** The model's layers in input → output order (Sequential, or a linear Functional chain). */
function linearLayers(t: KerasTopology): RawLayer[] {
  const toRaw = (l: unknown, i: number): RawLayer => {
    if (!isRecord(l) || typeof l.class_name !== 'string')
      throw new UnsupportedModelError(`layer #${i}: no class_name`);
    const config = isRecord(l.config) ? l.config : {};
    const name =
      typeof config.name === 'string' ? config.name : typeof l.name === 'string' ? l.name : `#${i}`;
    if (['Sequential', 'Functional', 'Model'].includes(l.class_name)) {
      throw new UnsupportedModelError(`layer "${name}" (${l.class_name}): nested models are not supported`);
    }
    if (['Bidirectional', 'TimeDistributed', 'RNN', 'CuDNNLSTM', 'CuDNNGRU'].includes(l.class_name)) {
      throw new UnsupportedModelError(
        `layer "${name}" (${l.class_name}): layer class ${l.class_name} is not supported`,
      );
    }
    return { className: l.class_name, name, config };
  };
  switch (t.className) {
    case 'Sequential': {
      const c = t.config;
      const layers = Array.isArray(c) ? c : isRecord(c) && Array.isArray(c.layers) ? c.layers : null;
      if (!layers) throw new UnsupportedModelError('Sequential model: config.layers missing');
      return layers.map(toRaw);
    }
    case 'Model':
    case 'Functional':
      return functionalChain(t.config, toRaw);
    default:
      throw new UnsupportedModelError(
        `model class ${t.className} is not supported (Sequential or Functional)`,
      );
  }
}

function functionalChain(config: unknown, toRaw: (l: unknown, i: number) => RawLayer): RawLayer[] {
  if (!isRecord(config) || !Array.isArray(config.layers))
    throw new UnsupportedModelError('Functional model: config.layers missing');
  const entries = config.layers as unknown[];
  const byName = new Map<string, { raw: RawLayer; inbound: string[] }>();
  entries.forEach((e, i) => {
    const raw = toRaw(e, i);
    const name = isRecord(e) && typeof e.name === 'string' ? e.name : raw.name;
    const nodes = isRecord(e) && Array.isArray(e.inbound_nodes) ? e.inbound_nodes : [];
    if (nodes.length > 1)
      throw new UnsupportedModelError(
        `layer "${name}" (${raw.className}): shared layers (called more than once) are not supported`,
      );
    const inbound = nodes.length === 0 ? [] : inboundNames(nodes[0], name, raw.className);
    byName.set(name, { raw: { ...raw, name }, inbound });
  });
  const endpoint = (field: string): string => {
    const v = config[field];
    // Keras 2: [["name", 0, 0]]; Keras 3 may also write ["name", 0, 0] for a single tensor.
    const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
    if (
      !Array.isArray(list) ||
      list.length !== 1 ||
      !Array.isArray(list[0]) ||
      typeof list[0][0] !== 'string'
    ) {
      throw new UnsupportedModelError(`Functional model: exactly one ${field} entry is supported`);
    }
    return list[0][0];
  };
  const input = endpoint('input_layers');
  const chain: RawLayer[] = [];
  let cur: string | undefined = endpoint('output_layers');
  const seen = new Set<string>();
  while (cur !== undefined) {
    const node = byName.get(cur);
    if (!node) throw new UnsupportedModelError(`Functional model: unknown layer "${cur}"`);
    if (seen.has(cur)) throw new UnsupportedModelError(`Functional model: cycle at layer "${cur}"`);
    seen.add(cur);
    chain.unshift(node.raw);
    if (cur === input) break;
    if (node.inbound.length !== 1) {
      throw new UnsupportedModelError(
        `layer "${cur}" (${node.raw.className}): ${node.inbound.length} inputs; only a linear chain is supported`,
      );
    }
    cur = node.inbound[0];
  }
  if (chain[0]?.name !== input)
    throw new UnsupportedModelError('Functional model: the output does not lead back to the input');
  for (const name of byName.keys()) {
    if (!seen.has(name))
      throw new UnsupportedModelError(
        `layer "${name}": not on the input → output path; only a linear chain is supported`,
      );
  }
  return chain;
}

function inboundNames(node: unknown, name: string, className: string): string[] {
  const out: string[] = [];
  if (Array.isArray(node)) {
    // Keras 2 / tfjs: [[layerName, nodeIndex, tensorIndex, kwargs], ...]
    for (const t of node) if (Array.isArray(t) && typeof t[0] === 'string') out.push(t[0]);
  } else if (isRecord(node)) {
    // Keras 3: {args: [keras tensors], kwargs: {...}}
    const visit = (v: unknown, inKwargs: boolean): void => {
      if (Array.isArray(v)) v.forEach((x) => visit(x, inKwargs));
      else if (isRecord(v)) {
        if (
          v.class_name === '__keras_tensor__' &&
          isRecord(v.config) &&
          Array.isArray(v.config.keras_history)
        ) {
          if (inKwargs)
            throw new UnsupportedModelError(
              `layer "${name}" (${className}): tensor keyword inputs are not supported`,
            );
          out.push(String(v.config.keras_history[0]));
        } else Object.values(v).forEach((x) => visit(x, inKwargs));
      }
    };
    visit(node.args, false);
    visit(node.kwargs, true);
  }
  return out;
}
