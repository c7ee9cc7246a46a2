import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Tokenizer } from '../preprocess/tokenizer';
import { StandardScaler } from '../preprocess/standard-scaler';
import {
  ArtifactIntegrityError,
  artifactToBuffers,
  loadArtifact,
  loadLayersModel,
  saveArtifact,
  sha256Hex,
} from './artifact-store';
import { parseSidecar, SidecarError, type SidecarDraft } from './sidecar';

const FIXTURES = path.join(__dirname, '../../fixtures');
const TEXT = path.join(FIXTURES, 'keras-text-classifier');
const FORECAST = path.join(FIXTURES, 'keras-forecaster');

function filesOf(dir: string, names: string[]): Map<string, Buffer> {
  return new Map(names.map((n) => [n, readFileSync(path.join(dir, n))]));
}
const textFiles = () =>
  filesOf(TEXT, ['streamcell.json', 'model.json', 'group1-shard1of1.bin', 'tokenizer.json']);

describe('loadArtifact', () => {
  it('loads a converted Keras text classifier from a directory and from buffers, identically', async () => {
    const fromDir = await loadArtifact(TEXT);
    expect(fromDir.sidecar).toMatchObject({
      task: 'classify',
      labels: ['negative', 'positive'],
      input: { maxTokens: 20, padding: 'pre' },
    });
    expect(fromDir.spec.embedding).toMatchObject({ inputDim: 200, outputDim: 16, maskZero: false });
    expect(fromDir.spec.recurrent[0]).toMatchObject({ kind: 'lstm', inputDim: 16, units: 16 });
    expect(fromDir.spec.head[0]).toMatchObject({ units: 1, activation: 'sigmoid' });
    expect([...fromDir.files.keys()].sort()).toEqual([
      'group1-shard1of1.bin',
      'model.json',
      'streamcell.json',
      'tokenizer.json',
    ]);
    const fromBuffers = await loadArtifact(textFiles());
    expect(fromBuffers.spec).toEqual(fromDir.spec);
    const fromObject = await loadArtifact(Object.fromEntries(textFiles()));
    expect(fromObject.spec.head[0].kernel).toEqual(fromDir.spec.head[0].kernel);
  });

  it('refuses a file whose sha256 differs, naming the file', async () => {
    const files = textFiles();
    const bin = Buffer.from(files.get('group1-shard1of1.bin')!);
    bin[100] ^= 1;
    files.set('group1-shard1of1.bin', bin);
    await expect(loadArtifact(files)).rejects.toThrow(ArtifactIntegrityError);
    await expect(loadArtifact(files)).rejects.toThrow(
      /group1-shard1of1\.bin: sha256 [0-9a-f]{64} does not match/,
    );
  });

  it('refuses a listed file that is missing, and weight files the sidecar does not list', async () => {
    const files = textFiles();
    files.delete('tokenizer.json');
    await expect(loadArtifact(files)).rejects.toThrow(
      /tokenizer\.json is listed in streamcell\.json but missing/,
    );
    const unlisted = textFiles();
    const sc = JSON.parse(unlisted.get('streamcell.json')!.toString());
    delete sc.files['group1-shard1of1.bin'];
    unlisted.set('streamcell.json', Buffer.from(JSON.stringify(sc)));
    await expect(loadArtifact(unlisted)).rejects.toThrow(/must list weight file group1-shard1of1\.bin/);
  });

  it('refuses a sidecar that disagrees with the model (labels vs outputs)', async () => {
    const files = textFiles();
    const sc = JSON.parse(files.get('streamcell.json')!.toString());
    sc.labels = ['a', 'b', 'c'];
    files.set('streamcell.json', Buffer.from(JSON.stringify(sc)));
    await expect(loadArtifact(files)).rejects.toThrow(/labels has 3 labels but the model outputs 1 unit/);
  });

  it('loads a model without a sidecar (loadLayersModel)', async () => {
    const m = await loadLayersModel(FORECAST);
    expect(m.spec.recurrent[0]).toMatchObject({ kind: 'lstm', inputDim: 1, units: 8 });
    expect(m.inputLength).toBe(24);
  });
});

describe('saveArtifact / artifactToBuffers', () => {
  const forecastDraft = (): SidecarDraft => ({
    task: 'forecast',
    name: 'pump-temp',
    version: 2,
    input: { features: ['value'], includeTimeDelta: false, window: 24 },
    scaler: StandardScaler.of([20], [3.5], 100).toJSON(),
    labels: [],
    horizon: 1,
    metrics: { mae: 0.12 },
    parent: 1,
  });

  it('fills in checksums, schemaVersion and createdAt; the result loads back from buffers and from disk', async () => {
    const modelJson = readFileSync(path.join(FORECAST, 'model.json'));
    const weights = { 'group1-shard1of1.bin': readFileSync(path.join(FORECAST, 'group1-shard1of1.bin')) };
    const buffers = artifactToBuffers({ modelJson, weights, sidecar: forecastDraft() });
    const sidecar = parseSidecar(buffers.get('streamcell.json'));
    expect(sidecar.schemaVersion).toBe(1);
    expect(Date.parse(sidecar.createdAt)).not.toBeNaN();
    expect(sidecar.files).toEqual({
      'group1-shard1of1.bin': sha256Hex(weights['group1-shard1of1.bin']),
      'model.json': sha256Hex(modelJson),
    });
    const loaded = await loadArtifact(buffers);
    expect(loaded.sidecar.name).toBe('pump-temp');

    const dir = await mkdtemp(path.join(tmpdir(), 'streamcell-artifact-'));
    try {
      const written = await saveArtifact(dir, {
        modelJson: JSON.parse(modelJson.toString()),
        weights,
        sidecar: forecastDraft(),
      });
      const fromDisk = await loadArtifact(dir);
      expect(fromDisk.sidecar.files).toEqual(written.files);
      expect(fromDisk.spec).toEqual(loaded.spec);
      // Tampering on disk is caught on the next load.
      await writeFile(
        path.join(dir, 'model.json'),
        (await readFile(path.join(dir, 'model.json'), 'utf8')) + ' ',
      );
      await expect(loadArtifact(dir)).rejects.toThrow(/model\.json: sha256/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to build an artifact whose sidecar disagrees with the model', () => {
    const modelJson = readFileSync(path.join(FORECAST, 'model.json'));
    const weights = { 'group1-shard1of1.bin': readFileSync(path.join(FORECAST, 'group1-shard1of1.bin')) };
    const draft = {
      ...forecastDraft(),
      input: { features: ['a', 'b'], includeTimeDelta: false, window: 24 },
      scaler: null,
    };
    expect(() => artifactToBuffers({ modelJson, weights, sidecar: draft })).toThrow(
      /input\.features give 2 input features but the model takes 1/,
    );
    expect(() =>
      artifactToBuffers({ modelJson, weights, sidecar: { ...forecastDraft(), horizon: 3 } }),
    ).toThrow(/horizon/);
    expect(() => artifactToBuffers({ modelJson, weights: {}, sidecar: forecastDraft() })).toThrow(
      /weight file group1-shard1of1\.bin/,
    );
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests mutate arbitrary fields
type Sidecar = Record<string, any>;

describe('parseSidecar', () => {
  const valid = () => JSON.parse(readFileSync(path.join(TEXT, 'streamcell.json'), 'utf8'));
  const broken = (mutate: (s: Sidecar) => void) => {
    const s = valid();
    mutate(s);
    return () => parseSidecar(s);
  };

  it('accepts the fixture sidecar and a Keras tokenizer inside it', () => {
    const s = parseSidecar(valid());
    expect(Tokenizer.fromKerasJson(s.tokenizer!).numWords).toBe(200);
  });

  it.each<[string, (s: Sidecar) => void, RegExp]>([
    ['schemaVersion', (s) => (s.schemaVersion = 2), /schemaVersion must be 1/],
    ['task', (s) => (s.task = 'regress'), /task must be 'forecast' or 'classify'/],
    ['name', (s) => (s.name = ''), /name must be a non-empty string/],
    ['createdAt', (s) => (s.createdAt = 'yesterday'), /createdAt must be an ISO-8601 date/],
    ['labels', (s) => (s.labels = ['a', 'a']), /labels must not repeat/],
    [
      'files hex',
      (s) => (s.files['model.json'] = 'XYZ'),
      /files\["model.json"\] must be a lower-case sha256/,
    ],
    ['files path', (s) => (s.files['../x'] = 'a'.repeat(64)), /files\["..\/x"\] is not a safe relative path/],
    ['maxTokens', (s) => (s.input.maxTokens = 0), /input\.maxTokens must be a positive integer/],
    ['padding', (s) => (s.input.padding = 'both'), /input\.padding must be 'pre' or 'post'/],
    ['paddingPrefix', (s) => (s.input.paddingPrefix = -1), /input\.paddingPrefix/],
    ['tokenizer', (s) => delete s.tokenizer, /tokenizer is required for task classify/],
    ['tokenizer content', (s) => (s.tokenizer.config.word_index = '{"a": "b"}'), /tokenizer is invalid/],
    ['metrics', (s) => (s.metrics = { loss: 'low' }), /metrics\.loss must be a number/],
    [
      'forecast features',
      (s) => ((s.task = 'forecast'), (s.input = { features: [], includeTimeDelta: false, window: 3 })),
      /input\.features/,
    ],
    [
      'forecast scaler',
      (s) => (
        (s.task = 'forecast'),
        (s.input = { features: ['v'], includeTimeDelta: true, window: 3 }),
        (s.scaler = { mean: [0], scale: [1] })
      ),
      /scaler has 1 features, the input spec has 2/,
    ],
  ])('names the field: %s', (_n, mutate, message) => {
    expect(broken(mutate)).toThrow(SidecarError);
    expect(broken(mutate)).toThrow(message);
  });

  it('refuses invalid JSON', () => {
    expect(() => parseSidecar(Buffer.from('{nope'))).toThrow(/streamcell\.json: invalid JSON/);
  });
});
