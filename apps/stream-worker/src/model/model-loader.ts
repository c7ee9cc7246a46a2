import { loadArtifact, RecurrentModel, StandardScaler, TextWindow, Tokenizer, textModeOf, type ForecastInputSpec, type ClassifyInputSpec } from '@app/lstm';
import type { ModelRegistry } from '@app/registry';
import { paddedInitialState, type ServingModel, type SwapPolicy } from './serving-model';

/** Thrown when a version cannot be served (bad artifact, task mismatch). */
export class ModelLoadError extends Error {
  constructor(
    readonly model: string,
    readonly version: number,
    message: string,
  ) {
    super(`model ${model} v${version}: ${message}`);
    this.name = 'ModelLoadError';
  }
}

/**
 * Loads one registry version into a {@link ServingModel}: files from the registry (its sha256
 * checked on read), the artifact verified against its sidecar (`loadArtifact`), the engine built
 * on the WASM SIMD kernel when available, and the task's pre/post-processing from the sidecar.
 */
export async function loadServingModel(
  registry: Pick<ModelRegistry, 'loadVersionFiles'>,
  name: string,
  version: number,
  policy: SwapPolicy,
): Promise<ServingModel> {
  const files = await registry.loadVersionFiles(name, version);
  const artifact = await loadArtifact(files);
  const engine = new RecurrentModel(artifact.spec);
  const sidecar = artifact.sidecar;
  const base = { name, version, versionLabel: String(version), engine, policy };
  if (sidecar.task === 'forecast') {
    const input = sidecar.input as ForecastInputSpec;
    const valueCount = input.features.length;
    const width = valueCount + (input.includeTimeDelta ? 1 : 0);
    if (engine.inputDim !== width || engine.vocabularySize !== 0) {
      throw new ModelLoadError(name, version, `model input width ${engine.inputDim} does not match the sidecar's ${width} features`);
    }
    const scaler = sidecar.scaler ? StandardScaler.fromJSON(sidecar.scaler) : StandardScaler.of(new Array<number>(width).fill(0), new Array<number>(width).fill(1));
    const horizon = engine.outputDim;
    const targets = input.targets ?? input.features;
    const targetIndex = Int32Array.from(targets, (t) => input.features.indexOf(t));
    if (targetIndex.some((f) => f < 0) || horizon % targets.length !== 0) {
      throw new ModelLoadError(name, version, `${horizon} outputs are not horizon × ${targets.length} targets of the sidecar's features`);
    }
    return {
      ...base,
      task: {
        kind: 'forecast',
        valueCount,
        includeTimeDelta: input.includeTimeDelta,
        mean: Float64Array.from(scaler.mean),
        scale: Float64Array.from(scaler.scale),
        horizon,
        targetIndex,
        maskValue: artifact.inputMaskValue,
      },
      initialState: new Float32Array(engine.stateSize),
    };
  }
  const input = sidecar.input as ClassifyInputSpec;
  if (engine.vocabularySize === 0) throw new ModelLoadError(name, version, 'a classify model needs an Embedding layer');
  const tokenizer = Tokenizer.fromKerasJson(sidecar.tokenizer!);
  const labels = sidecar.labels.length > 0 ? sidecar.labels : engine.outputDim === 1 ? ['neg', 'pos'] : [];
  const binarySigmoid = engine.outputDim === 1;
  if (!binarySigmoid && labels.length !== engine.outputDim) {
    throw new ModelLoadError(name, version, `${labels.length} labels for ${engine.outputDim} outputs`);
  }
  if (binarySigmoid && labels.length !== 2) {
    throw new ModelLoadError(name, version, `a one-unit sigmoid head needs 2 labels [neg, pos], got ${labels.length}`);
  }
  // Window mode caches the states after 0..maxlen pad tokens once per version.
  const window =
    textModeOf(input) === 'window'
      ? new TextWindow(engine, { maxlen: input.maxTokens, padding: input.padding, maskZero: artifact.spec.embedding?.maskZero === true })
      : null;
  return {
    ...base,
    task: {
      kind: 'classify',
      tokenize: (text: string) => tokenizer.textToSequence(text),
      labels,
      binarySigmoid,
      window,
    },
    initialState: window ? new Float32Array(engine.stateSize) : paddedInitialState(engine, input.paddingPrefix ?? 0),
  };
}
