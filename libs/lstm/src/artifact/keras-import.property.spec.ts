import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { RecurrentModel } from '../engine/recurrent-model';
import { importFromModelJson } from './artifact-store';
import { UnsupportedModelError } from './keras-import';
import { parseModelJson } from './model-json';

/**
 * Property tests of the Keras import boundary (what an upload of converter output reaches):
 * random and mutated model.json topologies, weights manifests and weight bytes never throw
 * anything but an Error that names its reason (no TypeError, RangeError or a crash from inside),
 * and whatever imports is a model the engine can build and run.
 */
const FIXTURES = path.join(__dirname, '../../fixtures');
const BASES = ['keras-text-classifier', 'keras-gru-classifier', 'keras3-forecaster', 'keras-functional-masked'].map((name) => ({
  name,
  modelJson: readFileSync(path.join(FIXTURES, name, 'model.json'), 'utf8'),
  shard: readFileSync(path.join(FIXTURES, name, 'group1-shard1of1.bin')),
}));

/** How every rejection of the import begins: the file, the weight or the layer at fault. */
const REASON = /^(model\.json: |weights: |layer "|layer #\d+|weight "|model has no |model class |Sequential model: |Functional model: )/;

type Outcome = { ok: true } | { ok: false; error: unknown };

function tryImport(modelJson: string | object, shard: Buffer): Outcome {
  try {
    const imported = importFromModelJson(parseModelJson(modelJson), (p) => {
      if (p !== 'group1-shard1of1.bin') throw new Error(`weights: file ${p} is not part of the upload`);
      return shard;
    });
    // What imports must build and run: one step and the head, finite outputs for finite inputs.
    const model = new RecurrentModel(imported.spec, { kernel: 'ts' });
    const state = model.createState(1);
    if (model.vocabularySize > 0) model.stepTokens(1, Int32Array.of(model.vocabularySize - 1), state);
    else model.step(1, new Float32Array(model.inputDim), state);
    const out = new Float32Array(model.outputDim);
    model.head(1, state, out);
    if (!out.every(Number.isFinite)) return { ok: false, error: new Error(`non-finite output ${Array.from(out).join(',')}`) };
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

function assertNamed(o: Outcome): void {
  if (o.ok) return;
  const e = o.error;
  if (!(e instanceof Error)) throw new Error(`threw a non-Error: ${String(e)}`);
  if (e.constructor !== Error && !(e instanceof UnsupportedModelError)) throw new Error(`threw ${e.name}: ${e.message}`);
  if (!REASON.test(e.message)) throw new Error(`rejection does not name its reason: ${e.message}`);
}

/** Every path (array of keys) to a node of a JSON value, breadth-first, at most `limit`. */
function nodePaths(v: unknown, limit = 4000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const queue: { v: unknown; p: (string | number)[] }[] = [{ v, p: [] }];
  while (queue.length > 0 && out.length < limit) {
    const { v: cur, p } = queue.shift()!;
    if (p.length > 0) out.push(p);
    if (Array.isArray(cur)) cur.forEach((x, i) => queue.push({ v: x, p: [...p, i] }));
    else if (cur !== null && typeof cur === 'object') for (const [k, x] of Object.entries(cur)) queue.push({ v: x, p: [...p, k] });
  }
  return out;
}

function setAt(root: unknown, p: readonly (string | number)[], value: unknown, remove: boolean): void {
  let cur = root as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = p[p.length - 1];
  if (remove) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
}

const base = fc.constantFrom(...BASES);
const RUNS = { numRuns: 150 };

describe('Keras import: mutated and random inputs are refused with a named reason, never a crash', () => {
  it('the unmutated fixtures import', () => {
    for (const b of BASES) expect(tryImport(b.modelJson, b.shard)).toEqual({ ok: true });
  });

  it('any node of model.json replaced by a random JSON value', () => {
    fc.assert(
      fc.property(base, fc.nat(), fc.jsonValue({ maxDepth: 3 }), (b, pick, value) => {
        const json = JSON.parse(b.modelJson) as unknown;
        const paths = nodePaths(json);
        setAt(json, paths[pick % paths.length], value, false);
        assertNamed(tryImport(json as object, b.shard));
      }),
      RUNS,
    );
  });

  it('any node of model.json removed', () => {
    fc.assert(
      fc.property(base, fc.nat(), (b, pick) => {
        const json = JSON.parse(b.modelJson) as unknown;
        const paths = nodePaths(json);
        setAt(json, paths[pick % paths.length], undefined, true);
        assertNamed(tryImport(json as object, b.shard));
      }),
      RUNS,
    );
  });

  it('layer options set to hostile values (units, shapes, activations, flags)', () => {
    const keys = ['units', 'input_dim', 'output_dim', 'activation', 'recurrent_activation', 'use_bias', 'reset_after', 'mask_zero', 'return_sequences', 'go_backwards', 'batch_input_shape', 'mask_value', 'class_name'];
    const hostile = fc.oneof(
      fc.constantFrom(0, -1, 1.5, 1e9, Number.MAX_SAFE_INTEGER, 'softmax', 'hard_sigmoid', 'selu', null, true, false, [], {}, [null, 1e9]),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(base, fc.nat(), fc.constantFrom(...keys), hostile, (b, pick, key, value) => {
        const json = JSON.parse(b.modelJson) as unknown;
        const configs = nodePaths(json).filter((p) => p[p.length - 1] === 'config' || p[p.length - 1] === 'class_name');
        const p = configs[pick % configs.length];
        const target = p[p.length - 1] === 'class_name' ? p : [...p, key];
        try {
          setAt(json, target, value, false);
        } catch {
          return; // the config was not an object
        }
        assertNamed(tryImport(json as object, b.shard));
      }),
      RUNS,
    );
  });

  it('weights manifest entries with random names, shapes, dtypes and quantization', () => {
    const field = fc.constantFrom('name', 'shape', 'dtype', 'quantization');
    const value = fc.oneof(
      fc.constantFrom('float16', 'int32', 'uint8', 'bool', 'string', [1e9], [2 ** 31, 2 ** 31], [0], [], { dtype: 'uint8', scale: 1e39, min: 0 }, { dtype: 'int4' }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(base, fc.nat(), field, value, (b, pick, f, v) => {
        const json = JSON.parse(b.modelJson) as { weightsManifest: { weights: Record<string, unknown>[] }[] };
        const weights = json.weightsManifest[0].weights;
        weights[pick % weights.length][f] = v;
        assertNamed(tryImport(json, b.shard));
      }),
      RUNS,
    );
  });

  it('weight bytes flipped, truncated or extended', () => {
    fc.assert(
      fc.property(
        base,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.integer({ min: -64, max: 64 }),
        (b, flips, resize) => {
          const shard = Buffer.from(b.shard);
          for (const [at, byte] of flips) shard[at % shard.length] = byte;
          const sized = resize < 0 ? shard.subarray(0, shard.length + resize) : Buffer.concat([shard, Buffer.alloc(resize)]);
          assertNamed(tryImport(b.modelJson, sized));
        },
      ),
      RUNS,
    );
  });

  it('random JSON and random bytes as model.json', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), fc.string(), fc.uint8Array().map((u) => Buffer.from(u).toString('latin1'))), (text) => {
        assertNamed(tryImport(text, Buffer.alloc(0)));
      }),
      RUNS,
    );
  });
});
