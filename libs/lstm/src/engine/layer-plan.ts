import { ActivationCode, cellActivationCode } from './activation';
import type { RecurrentLayerSpec, RecurrentModelSpec } from './model-spec';

/** Where one recurrent layer's vectors live inside a key's state row, plus its resolved settings. */
export interface LayerPlan {
  readonly index: number;
  readonly spec: RecurrentLayerSpec;
  readonly kind: 'lstm' | 'gru';
  readonly inputDim: number;
  readonly units: number;
  /** Offset (floats) of h in the key's state row. */
  readonly hOffset: number;
  /** Offset (floats) of c in the key's state row (LSTM), or -1 (GRU). */
  readonly cOffset: number;
  readonly activation: ActivationCode;
  readonly recurrentActivation: ActivationCode;
}

function expectLength(what: string, arr: Float32Array, n: number): void {
  if (!(arr instanceof Float32Array)) throw new Error(`${what}: expected a Float32Array`);
  if (arr.length !== n) throw new Error(`${what}: expected ${n} floats, got ${arr.length}`);
}

function positiveInt(what: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what}: expected a positive integer, got ${n}`);
}

/**
 * Validates a model spec and lays out the per-key state: for each recurrent layer in order,
 * `h` (units floats) then, for LSTM only, `c` (units floats).
 */
export function planLayers(spec: RecurrentModelSpec): { layers: LayerPlan[]; stateSize: number } {
  if (!spec.recurrent || spec.recurrent.length === 0) {
    throw new Error('RecurrentModelSpec: at least one recurrent layer is required');
  }
  const emb = spec.embedding;
  if (emb) {
    positiveInt('embedding.inputDim', emb.inputDim);
    positiveInt('embedding.outputDim', emb.outputDim);
    expectLength('embedding.embeddings', emb.embeddings, emb.inputDim * emb.outputDim);
    if (emb.outputDim !== spec.recurrent[0].inputDim) {
      throw new Error(
        `embedding.outputDim ${emb.outputDim} does not match recurrent[0].inputDim ${spec.recurrent[0].inputDim}`,
      );
    }
  }
  const layers: LayerPlan[] = [];
  let offset = 0;
  let prevUnits = -1;
  spec.recurrent.forEach((l, index) => {
    const where = `recurrent[${index}] (${String(l.kind)})`;
    positiveInt(`${where}.inputDim`, l.inputDim);
    positiveInt(`${where}.units`, l.units);
    if (prevUnits >= 0 && l.inputDim !== prevUnits) {
      throw new Error(`${where}.inputDim ${l.inputDim} does not match previous layer units ${prevUnits}`);
    }
    let gates: number;
    if (l.kind === 'lstm') gates = 4;
    else if (l.kind === 'gru') gates = 3;
    else throw new Error(`${where}: unsupported recurrent layer kind`);
    expectLength(`${where}.kernel`, l.kernel, l.inputDim * gates * l.units);
    expectLength(`${where}.recurrentKernel`, l.recurrentKernel, l.units * gates * l.units);
    if (l.bias) {
      const rows = l.kind === 'gru' && l.resetAfter ? 2 : 1;
      expectLength(`${where}.bias`, l.bias, rows * gates * l.units);
    }
    const hOffset = offset;
    offset += l.units;
    let cOffset = -1;
    if (l.kind === 'lstm') {
      cOffset = offset;
      offset += l.units;
    }
    layers.push({
      index,
      spec: l,
      kind: l.kind,
      inputDim: l.inputDim,
      units: l.units,
      hOffset,
      cOffset,
      activation: cellActivationCode(l.activation, `${where}.activation`),
      recurrentActivation: cellActivationCode(l.recurrentActivation, `${where}.recurrentActivation`),
    });
    prevUnits = l.units;
  });
  return { layers, stateSize: offset };
}
