import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { loadArtifact, type ClassifyInputSpec, type ForecastInputSpec } from '@app/lstm';
import { ImportError, prepareImport, readImportDir } from './import-artifact';

/**
 * Imports of converter output without a hand-written sidecar (what `POST /v1/models/{name}/versions`
 * and `cli.js import` run), on models converted from real Keras (libs/lstm/fixtures).
 */
const FIXTURES = path.join(__dirname, '../../../../libs/lstm/fixtures');

/** The files a user uploads: the converter's model.json and shard, and tokenizer.json for text. */
function upload(fixture: string): Map<string, Buffer> {
  const dir = path.join(FIXTURES, fixture);
  const files = new Map<string, Buffer>();
  for (const f of readdirSync(dir)) if (f === 'model.json' || f.endsWith('.bin') || f === 'tokenizer.json') files.set(f, readFileSync(path.join(dir, f)));
  if (!files.has('tokenizer.json')) {
    const sidecar = JSON.parse(readFileSync(path.join(dir, 'streamcell.json'), 'utf8')) as { tokenizer?: unknown };
    if (sidecar.tokenizer) files.set('tokenizer.json', Buffer.from(JSON.stringify(sidecar.tokenizer)));
  }
  return files;
}

/** model.json with `edit` applied to every recurrent layer config. */
function editRecurrent(files: Map<string, Buffer>, edit: (c: Record<string, unknown>) => void): Map<string, Buffer> {
  const m = JSON.parse(files.get('model.json')!.toString('utf8'));
  for (const l of m.modelTopology.model_config.config.layers) if (l.class_name === 'LSTM' || l.class_name === 'GRU') edit(l.config);
  return new Map(files).set('model.json', Buffer.from(JSON.stringify(m)));
}

async function sidecarOf(files: Map<string, Buffer>) {
  const art = await loadArtifact(files);
  return { art, input: art.sidecar.input };
}

describe('prepareImport (no tfjs-layers in the path)', () => {
  it('imports the classic Keras text model with mode window by default, maxlen from the input length', async () => {
    const out = await prepareImport(upload('keras-text-classifier'), { name: 'classic' });
    expect(out.task).toBe('classify');
    const { input } = await sidecarOf(out.files);
    expect(input).toEqual({ maxTokens: 20, paddingPrefix: 20, padding: 'pre', mode: 'window' } satisfies ClassifyInputSpec);
  });

  it('imports mode stream when asked (pad prefix maxlen for an unmasked pre-padded model, 0 for post)', async () => {
    const pre = await sidecarOf((await prepareImport(upload('keras-text-classifier'), { name: 'c', mode: 'stream' })).files);
    expect(pre.input).toMatchObject({ paddingPrefix: 20, padding: 'pre', mode: 'stream' });
    const post = await sidecarOf((await prepareImport(upload('keras-text-classifier'), { name: 'c', mode: 'stream', padding: 'post' })).files);
    expect(post.input).toMatchObject({ paddingPrefix: 0, padding: 'post', mode: 'stream' });
  });

  it('imports a masked GRU with reset_after=True (tf_keras default), which tfjs-layers refuses', async () => {
    const out = await prepareImport(upload('keras-gru-classifier'), { name: 'gru', padding: 'post', labels: ['a', 'b', 'c'] });
    const { art, input } = await sidecarOf(out.files);
    expect(input).toEqual({ maxTokens: 16, paddingPrefix: 0, padding: 'post', mode: 'window' });
    expect(art.spec.recurrent.map((r) => (r.kind === 'gru' ? r.resetAfter : null))).toEqual([true, true]);
    expect(art.spec.embedding?.maskZero).toBe(true);
  });

  it('imports unroll=true layers (GRU reset_after=false with unroll: the softmax model of test/keras-parity.e2e-spec.ts)', async () => {
    const files = editRecurrent(upload('keras-text-classifier'), (c) => (c.unroll = true));
    const { art } = await sidecarOf((await prepareImport(files, { name: 'unrolled' })).files);
    expect(art.spec.recurrent[0].kind).toBe('lstm');
  });

  it('imports a Keras 3 .keras model converted by tensorflowjs (forecaster with a scaler)', async () => {
    const out = await prepareImport(upload('keras3-forecaster'), {
      name: 'k3',
      task: 'forecast',
      scaler: { mean: [0, 0], scale: [1, 1] },
      window: 12,
    });
    const { art, input } = await sidecarOf(out.files);
    expect(out.task).toBe('forecast');
    expect((input as ForecastInputSpec).features).toHaveLength(2);
    expect(art.spec.recurrent.map((r) => r.kind)).toEqual(['lstm', 'gru']);
  });

  it('refuses go_backwards, return_state and time_major by name', async () => {
    for (const opt of ['go_backwards', 'return_state', 'time_major']) {
      const files = editRecurrent(upload('keras-text-classifier'), (c) => (c[opt] = true));
      await expect(prepareImport(files, { name: 'x' })).rejects.toThrow(new RegExp(`layer "lstm" \\(LSTM\\): option ${opt}=true is not supported`));
    }
  });

  it.each([
    ['NaN', Number.NaN],
    ['+Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('refuses a %s weight, naming the weight and the index', async (_label, value) => {
    const files = upload('keras-text-classifier');
    const shard = Buffer.from(files.get('group1-shard1of1.bin')!);
    shard.writeFloatLE(value, 4 * 17); // dense/kernel is [16, 1], dense/bias [1]: index 17 is embeddings #0
    files.set('group1-shard1of1.bin', shard);
    const err = await prepareImport(files, { name: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as Error).message).toMatch(/weights: embedding\/embeddings: value #0 is (NaN|-?Infinity) \(NaN and infinite weights are refused\)/);
  });

  it('names a weight file that was not uploaded, and the fields a text model needs', async () => {
    const files = upload('keras-text-classifier');
    files.delete('group1-shard1of1.bin');
    await expect(prepareImport(files, { name: 'x' })).rejects.toThrow(/weight file group1-shard1of1.bin .* was not uploaded/);
    const noTok = upload('keras-text-classifier');
    noTok.delete('tokenizer.json');
    await expect(prepareImport(noTok, { name: 'x' })).rejects.toThrow(/^task: required/);
    await expect(prepareImport(noTok, { name: 'x', task: 'classify' })).rejects.toThrow(/tokenizer\.json .* is required/);
    await expect(prepareImport(upload('keras-text-classifier'), { name: 'x', task: 'forecast' })).rejects.toThrow(/forecast needs a model without an Embedding/);
  });

  it('imports every inference no-op of the support table (SpatialDropout1D, GaussianNoise, GaussianDropout, AlphaDropout, Flatten) to the same spec', async () => {
    const plain = await sidecarOf((await prepareImport(upload('keras-text-classifier'), { name: 'p' })).files);
    const files = upload('keras-text-classifier');
    const m = JSON.parse(files.get('model.json')!.toString('utf8'));
    const layers = m.modelTopology.model_config.config.layers as { class_name: string; config: Record<string, unknown> }[];
    const at = (cls: string) => layers.findIndex((l) => l.class_name === cls);
    layers.splice(at('LSTM'), 0, { class_name: 'SpatialDropout1D', config: { name: 'sd', rate: 0.2 } }, { class_name: 'GaussianNoise', config: { name: 'gn', stddev: 0.1 } });
    layers.splice(at('Dense'), 0, { class_name: 'Flatten', config: { name: 'fl' } }, { class_name: 'GaussianDropout', config: { name: 'gd', rate: 0.1 } }, { class_name: 'AlphaDropout', config: { name: 'ad', rate: 0.1 } });
    files.set('model.json', Buffer.from(JSON.stringify(m)));
    const withNoOps = await sidecarOf((await prepareImport(files, { name: 'n' })).files);
    expect(withNoOps.art.spec).toEqual(plain.art.spec);
  });

  it('imports a Keras 2 Functional model with Masking → LSTM → LSTM → Dense → Activation as a forecaster', async () => {
    const { art } = await sidecarOf((await prepareImport(upload('keras-functional-masked'), { name: 'f', task: 'forecast' })).files);
    expect(art.inputMaskValue).toBe(0);
    expect(art.spec.recurrent).toHaveLength(2);
  });

  it('reads a converter output directory: model.json, its weight files and the tokenizer, nothing else', async () => {
    const files = await readImportDir(path.join(FIXTURES, 'keras-streams', 'masked-gru'));
    expect([...files.keys()].sort()).toEqual(['group1-shard1of1.bin', 'model.json', 'tokenizer.json']);
    const withSidecar = await readImportDir(path.join(FIXTURES, 'keras-forecaster'));
    expect([...withSidecar.keys()].sort()).toEqual(['expected.json', 'group1-shard1of1.bin', 'model.json', 'streamcell.json']);
  });
});
